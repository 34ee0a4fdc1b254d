#!/usr/bin/env bash
# Installs what gansynth-tf2 needs. Idempotent: a second run only checks.
#   bash tools/setup.sh          runtime + test dependencies (incl. the optional tfds extra, so its reader is tested)
# Into which Python (tools/python_env.sh): $PYTHON when set; else the active
# virtual environment; else the project virtual environment .venv when it
# exists, or when python3 is externally managed (PEP 668: Debian 12 and
# Ubuntu 24.04 refuse pip install into the system Python), made here; else
# python3 itself.
# System packages (Debian/Ubuntu, needs root or sudo): fluidsynth and the small
# TimGM6mb soundfont, used to render training notes and by the tests,
# chromium and chromium-driver (headless, for the web page's tests), and
# python3-venv when the virtual environment needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/python_env.sh

apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing $* with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

need_apt=()
command -v fluidsynth >/dev/null 2>&1 || need_apt+=(fluidsynth)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need_apt+=(timgm6mb-soundfont)
# Headless Chromium and its WebDriver: the web page's tests (tests/test_serve.py).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt_install "${need_apt[@]}" || \
    echo "setup: please install ${need_apt[*]} (fluidsynth and a GM soundfont;" \
         "chromium and chromium-driver for the web page's browser tests);" \
         "soundfont rendering and those tests need them" >&2
fi

python_env_pick "$PWD"
if [ -n "$PYTHON_ENV_VENV" ]; then
  if [ ! -x "$PYTHON" ]; then
    echo "setup: python3 ($(command -v python3)) is externally managed (PEP 668):" \
         "creating the project virtual environment .venv"
    # Debian/Ubuntu ship venv's pip bootstrap apart, in python3-venv.
    if ! python3 -m venv "$PYTHON_ENV_VENV" >/dev/null 2>&1; then
      rm -rf "$PYTHON_ENV_VENV"
      apt_install python3-venv && python3 -m venv "$PYTHON_ENV_VENV" || {
        rm -rf "$PYTHON_ENV_VENV"
        echo "setup: cannot create .venv with 'python3 -m venv'; install" \
             "python3-venv (sudo apt-get install python3-venv), or set" \
             "PYTHON=/path/to/python to install into another interpreter" >&2
        exit 1
      }
    fi
  fi
  echo "setup: using the project virtual environment .venv ($PYTHON);" \
       "run the other commands with .venv/bin/python or after" \
       "'source .venv/bin/activate' (PYTHON=... picks another interpreter)"
fi

# The import check runs outside the checkout: from here the package would
# import from the working directory even when it is not installed (or its
# editable install points at another checkout), and the CLIs' subprocesses
# would then fail.
# (The checkout's path is taken before the subshell's cd: "$PWD" inside it
# would be "/", the check would always fail and every run reinstall.)
package_dir="$PWD/gansynth_tf2"
if ! (cd / && "$PYTHON" -c "import gansynth_tf2, tensorflow, pytest, tensorflow_datasets, os, sys; sys.exit(os.path.dirname(gansynth_tf2.__file__) != sys.argv[1])" "$package_dir") >/dev/null 2>&1 \
   || [ pyproject.toml -nt .setup-stamp ]; then
  echo "setup: pip install -e .[test,tfds] (TensorFlow is large: first run takes a few minutes)"
  "$PYTHON" -m pip install -q --disable-pip-version-check -e ".[test,tfds]"
  touch .setup-stamp
fi
