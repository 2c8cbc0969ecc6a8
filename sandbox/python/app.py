"""`python3` inside the Hermes sandbox: CPython as a WASI command.

componentize-py snapshots the interpreter after importing this module, so every
module imported here is ready at the start of each call; a call is then a fresh
copy of that snapshot running `Run.run` with the call's argv, environment, stdin
and working directory. Usage mirrors CPython's: `python3 -c CODE [ARG...]`,
`python3 FILE [ARG...]`, `python3 -m MODULE [ARG...]`, or the program on stdin.
"""

import importlib
import io
import os
import pkgutil
import runpy
import sys
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import environment

# Modules that act when imported (open a browser, print, start a GUI or a test run)
# or cannot work without the host's services; everything else is imported below.
_SKIP_TOP = {
    "antigravity", "this", "__hello__", "__phello__", "idlelib", "tkinter", "turtle", "turtledemo",
    "test", "ensurepip", "venv", "lib2to3", "pydoc_data", "xxlimited", "xxlimited_35", "xxsubtype",
    "_testcapi", "_testinternalcapi", "_testbuffer", "_testimportmultiple", "_testmultiphase",
    "_testsinglephase", "_testclinic", "_testlimitedcapi", "_xxtestfuzz", "_ctypes_test", "msvcrt",
    "winreg", "winsound", "_winapi", "nt", "_wmi", "ctypes", "curses", "dbm", "readline",
}


def _import_standard_library() -> None:
    """Imports the whole standard library, so it is in the snapshot.

    The interpreter finds its library files only while componentize-py builds
    the component; at run time nothing but this snapshot exists, so a module
    not imported here could never be imported by a call.
    """
    for name in sorted(sys.stdlib_module_names - _SKIP_TOP):
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module this build lacks (no C extension)
            continue
        path = getattr(module, "__path__", None)
        if not path:
            continue
        for info in pkgutil.walk_packages(path, name + "."):
            leaf = info.name.rsplit(".", 1)[-1]
            if leaf in ("__main__", "tests", "test") or ".tests." in info.name or ".test." in info.name:
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - same as above
                continue


_import_standard_library()

USAGE = "usage: python3 [-c CODE | -m MODULE | FILE | -] [ARG...]"


def _main(argv: list[str]) -> int:
    if argv and argv[0] in ("-V", "--version"):
        print("Python " + sys.version.split()[0])
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "-c":
        if len(argv) < 2:
            print("python3: argument expected for the -c option\n" + USAGE, file=sys.stderr)
            return 2
        sys.argv = ["-c"] + argv[2:]
        _exec(argv[1], "<string>")
    elif argv and argv[0] == "-m":
        if len(argv) < 2:
            print("python3: argument expected for the -m option\n" + USAGE, file=sys.stderr)
            return 2
        sys.argv = [argv[1]] + argv[2:]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    elif argv and argv[0] != "-":
        if argv[0].startswith("-"):
            print(f"python3: unsupported option {argv[0]}\n" + USAGE, file=sys.stderr)
            return 2
        path = argv[0]
        if not os.path.exists(path):
            print(f"python3: can't open file {path!r}: [Errno 2] No such file or directory", file=sys.stderr)
            return 2
        sys.argv = argv
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        runpy.run_path(path, run_name="__main__")
    else:
        sys.argv = ["-"] + argv[1:]
        _exec(sys.stdin.read(), "<stdin>")
    return 0


def _exec(code: str, filename: str) -> None:
    scope = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(code, filename, "exec"), scope)


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def _buffered(fd: int, line_buffering: bool = False) -> io.TextIOWrapper:
    # The interpreter's own stdio is unbuffered, and an unbuffered text stream drops
    # what a short write leaves over (WASI stdout takes 8 KiB per write); a buffered
    # writer retries until all is written.
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(io.BufferedWriter(raw, 64 << 10), encoding="utf-8", errors="backslashreplace", line_buffering=line_buffering)


class Run(exports.Run):
    def run(self) -> None:
        sys.stdout = _buffered(1)
        sys.stderr = _buffered(2, line_buffering=True)
        try:
            os.chdir(environment.initial_cwd() or "/workspace")
        except OSError:
            os.chdir("/workspace")
        try:
            status = _main(sys.argv[1:])
        except SystemExit as e:
            status = _exit_code(e)
        except BaseException:  # noqa: BLE001 - the traceback is the program's answer
            traceback.print_exc()
            status = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        if status != 0:
            # wasi:cli/run has only success and failure; the host reports 1.
            raise Err(None)
