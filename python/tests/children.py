"""How the tests start a helper script of this directory in a child Python process."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def child_command(script, *args):
    """The command line running script (a file of this directory) with args."""
    return [sys.executable, os.path.join(HERE, script)] + [str(a) for a in args]


def child_env(**extra):
    """This process's environment, with the source package first on PYTHONPATH, plus extra."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(HERE, "..")] +
                                        ([env["PYTHONPATH"]] if "PYTHONPATH" in env else []))
    return env
