"""The Python session of one documentation page (run by tests/test_docs.py, not by pytest).

Reads one JSON request per line on stdin, ``{"code": ..., "name": ...}``, executes the code
in the page's shared namespace with the page's directory as working directory, and answers
on the original stdout with one JSON line, ``{"stdout": ..., "error": traceback or null}``.
File descriptor 1 is pointed at stderr while examples run, so subprocesses an example
starts cannot garble the answers.
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import os
import sys
import traceback


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.path.insert(0, os.getcwd())  # like `python example.py`: the page's own modules
    namespace: dict[str, object] = {"__name__": "__main__"}
    for line in sys.stdin:
        request = json.loads(line)
        out = io.StringIO()
        error = None
        name, text = request["name"], request["code"]
        linecache.cache[name] = (len(text), None, text.splitlines(True), name)  # tracebacks
        try:
            code = compile(text, name, "exec")
            with contextlib.redirect_stdout(out):
                exec(code, namespace)  # the documentation's own example, from this checkout
        except BaseException:
            error = traceback.format_exc()
        answers.write(json.dumps({"stdout": out.getvalue(), "error": error}) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
