"""Helpers for tests that start servers (llama.cpp, Chroma) as subprocesses on 127.0.0.1."""

import subprocess


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate, then kill if it does not exit within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
