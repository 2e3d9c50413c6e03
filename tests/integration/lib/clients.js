"use strict";
// Bookkeeping for client sockets (socket.io-client 4 and 2): every socket a
// test creates is tracked and torn down after the test, so that no client
// outlives its test and the process can exit.

const tracked = new Set();

function track(socket) {
  tracked.add(socket);
  return socket;
}

function closeOne(socket) {
  try {
    const manager = socket.io;
    if (manager) {
      if (typeof manager.reconnection === "function") manager.reconnection(false);
    }
    socket.disconnect();
    if (manager) {
      // socket.io-client 4: Manager#_close; 2: Manager#close
      if (typeof manager._close === "function") manager._close();
      else if (typeof manager.close === "function") manager.close();
      if (manager.engine && typeof manager.engine.close === "function") manager.engine.close();
    }
  } catch {
    // best effort
  }
}

function closeAll() {
  for (const s of tracked) closeOne(s);
  tracked.clear();
}

module.exports = { track, closeAll, closeOne };
