"""Drives a command in a pseudo-terminal (python3's pty module; CI has python3 but no tmux).

usage: pty-driver.py '<json>'   with {"argv": [...], "steps": [...], "timeout": seconds}
steps: {"expect": "regex"}              wait until the output since the last match matches
       {"send": "text"}                 type text ("\r" is Enter, "\u0003" is Ctrl-C)
       {"wait_output": n}               wait until n more characters arrived after the last match
       {"sleep": seconds}
Prints JSON: {"ok": bool, "error": str|null, "transcript": str, "exit": int|null}
"""
import json, os, pty, re, select, signal, sys, time

spec = json.loads(sys.argv[1])
deadline_default = spec.get("timeout", 60)
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "dumb"
    os.execvpe(spec["argv"][0], spec["argv"], os.environ)

buf = ""
pos = 0  # output consumed by earlier matches
error = None


def read_some(timeout):
    global buf
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    buf += data.decode("utf-8", "replace")
    return True


for step in spec["steps"]:
    limit = time.time() + step.get("timeout", deadline_default)
    if "expect" in step:
        rx = re.compile(step["expect"])
        while True:
            m = rx.search(buf, pos)
            if m:
                pos = m.end()
                break
            if time.time() > limit or not read_some(0.05):
                error = "timeout waiting for %r" % step["expect"]
                break
    elif "wait_output" in step:
        while len(buf) - pos < step["wait_output"]:
            if time.time() > limit or not read_some(0.05):
                error = "timeout waiting for %d characters" % step["wait_output"]
                break
        pos = len(buf)
    elif "send" in step:
        os.write(fd, step["send"].encode("utf-8"))
    elif "sleep" in step:
        end = time.time() + step["sleep"]
        while time.time() < end:
            read_some(0.05)
    if error:
        break

exit_code = None
end = time.time() + (5 if error else spec.get("exit_timeout", 30))
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        exit_code = os.waitstatus_to_exitcode(status)
        break
    read_some(0.05)
if exit_code is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if not error:
        error = "the program did not exit"
for _ in range(50):
    if not read_some(0.01):
        break
print(json.dumps({"ok": error is None, "error": error, "transcript": buf, "exit": exit_code}))
