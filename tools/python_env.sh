# Sourced (not run) by tools/setup.sh, tools/test.sh and tools/quickstart.sh:
# `python_env_pick ROOT` picks the one Python they all use and exports it as
# PYTHON:
#   1. $PYTHON when set: the override, any interpreter, used as it is;
#   2. python3 when it runs inside a virtual environment (an activated venv);
#   3. ROOT/.venv, the project virtual environment, when it exists;
#   4. ROOT/.venv to be made (by setup.sh) when python3 is "externally
#      managed" (PEP 668: the system Python of Debian 12 and Ubuntu 24.04,
#      where pip refuses to install outside a virtual environment);
#   5. python3 itself otherwise (pyenv, conda, a CI image's Python).
# PYTHON_ENV_VENV is set to the .venv folder in cases 3 and 4, else empty.

python_env_pick() {
  local root=$1
  PYTHON_ENV_VENV=""
  if [ -n "${PYTHON:-}" ]; then
    export PYTHON
    return 0
  fi
  local base=python3
  if ! command -v "$base" >/dev/null 2>&1; then
    echo "setup: python3 not found; install Python >= 3.10 (or set PYTHON)" >&2
    return 1
  fi
  # "venv externally_managed" as two 0/1 flags.
  local state
  if ! state=$("$base" -c 'import os, sys, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
in_venv = sys.prefix != sys.base_prefix
print(int(in_venv), int(os.path.exists(marker) and not in_venv))') ||
     [ -z "$state" ]; then
    # Guessing "not managed" here would send pip at a system Python.
    echo "setup: $(command -v "$base") did not run; set PYTHON to a Python >= 3.10" >&2
    return 1
  fi
  if [ "${state% *}" = 1 ]; then
    PYTHON=$base
  elif [ -x "$root/.venv/bin/python" ] || [ "${state#* }" = 1 ]; then
    PYTHON_ENV_VENV="$root/.venv"
    PYTHON="$PYTHON_ENV_VENV/bin/python"
  else
    PYTHON=$base
  fi
  export PYTHON PYTHON_ENV_VENV
}
