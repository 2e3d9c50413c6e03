# Warnings are on for every iogate target; third-party headers come in as SYSTEM.
function(iogate_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
endfunction()
