"""A server binary under test: spawned on port 0, its listening line awaited (bounded), its
output kept for error messages, stopped with SIGTERM and a bounded wait."""
import atexit
import collections
import os
import queue
import re
import subprocess
import threading

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
LISTEN_RE = re.compile(r"^iogate listening on port (\d+)\s*$")


def backtrace(pid):
    """Best effort: every thread's backtrace of a live process (needs gdb)."""
    try:
        r = subprocess.run(
            ["gdb", "-batch", "-p", str(pid), "-ex", "thread apply all bt"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
        )
        return r.stdout[-65536:]
    except (OSError, subprocess.SubprocessError) as exc:
        return "(no backtrace: %s)" % exc


class ServerProcess:
    def __init__(self, path, args=(), env=None):
        self.name = os.path.basename(path)
        self.output = collections.deque(maxlen=2000)
        self.proc = subprocess.Popen(
            [path, "--port", "0"] + list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        atexit.register(self._kill)
        ports = queue.Queue()

        def read_stdout():
            for raw in self.proc.stdout:  # keeps draining until EOF
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.output.append(line)
                m = LISTEN_RE.match(line)
                if m:
                    ports.put(int(m.group(1)))

        def read_stderr():
            for raw in self.proc.stderr:
                self.output.append(raw.decode("utf-8", "replace").rstrip("\r\n"))

        for target in (read_stdout, read_stderr):
            threading.Thread(target=target, daemon=True).start()

        try:
            self.port = ports.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            self._kill()
            raise RuntimeError(
                "%s did not print its listening line within %.0f s (exit code %s)\n%s"
                % (self.name, START_TIMEOUT_S, self.proc.poll(), "\n".join(self.output))
            )
        self.url = "http://127.0.0.1:%d" % self.port

    def alive(self):
        return self.proc.poll() is None

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        """SIGTERM, bounded wait; a server that does not exit is an error."""
        if self.proc.poll() is not None:
            raise RuntimeError(
                "%s died during the tests (exit %s)\n%s" % (self.name, self.proc.returncode, "\n".join(self.output))
            )
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stacks = backtrace(self.proc.pid)
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            raise RuntimeError(
                "%s did not exit within %.0f s of SIGTERM (killed)\n--- threads ---\n%s\n--- output ---\n%s"
                % (self.name, STOP_TIMEOUT_S, stacks, "\n".join(self.output))
            )
        if self.proc.returncode < 0 and self.proc.returncode != -15:
            raise RuntimeError(
                "%s exited with signal %d after SIGTERM\n%s"
                % (self.name, -self.proc.returncode, "\n".join(self.output))
            )
