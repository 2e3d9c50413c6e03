include(${CMAKE_CURRENT_LIST_DIR}/net.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/eio.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/sio.cmake)
