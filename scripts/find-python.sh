#!/usr/bin/env bash
# Print the path of a Python interpreter for one of the two environments, or explain how to get one.
#   scripts/find-python.sh bot       CPython 3.10 (Rasa 3.6 supports 3.8-3.10; 3.10 is the one its socket.io
#                                    websocket transport works on). $BOT_PYTHON wins if set.
#   scripts/find-python.sh backend   CPython 3.11 or newer. $BACKEND_PYTHON wins if set.
set -euo pipefail

role=${1:?usage: find-python.sh bot|backend}

# Succeeds if "$1" runs and its version satisfies the role.
fits() {
  local candidate=$1
  [ -n "$candidate" ] || return 1
  command -v "$candidate" >/dev/null 2>&1 || [ -x "$candidate" ] || return 1
  case $role in
    bot) "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1 ;;
    backend) "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 ;;
  esac
}

resolve() { "$1" -c 'import sys; print(sys.executable)'; }

candidates=()
case $role in
  bot)
    if [ -n "${BOT_PYTHON:-}" ]; then
      fits "$BOT_PYTHON" && { resolve "$BOT_PYTHON"; exit 0; }
      echo "BOT_PYTHON=$BOT_PYTHON is not a working CPython 3.10 interpreter." >&2
      exit 1
    fi
    candidates+=(python3.10)
    pyenv_root=$( (pyenv root 2>/dev/null) || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for p in "$pyenv_root"/versions/3.10*/bin/python3.10; do candidates+=("$p"); done
    candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
    if command -v uv >/dev/null 2>&1; then candidates+=("$(uv python find 3.10 2>/dev/null || true)"); fi
    ;;
  backend)
    if [ -n "${BACKEND_PYTHON:-}" ]; then
      fits "$BACKEND_PYTHON" && { resolve "$BACKEND_PYTHON"; exit 0; }
      echo "BACKEND_PYTHON=$BACKEND_PYTHON is not a working CPython 3.11+ interpreter." >&2
      exit 1
    fi
    candidates+=(python3 python3.13 python3.12 python3.11)
    ;;
  *) echo "unknown role: $role (expected bot or backend)" >&2; exit 2 ;;
esac

for candidate in "${candidates[@]}"; do
  if fits "$candidate"; then resolve "$candidate"; exit 0; fi
done

case $role in
  bot)
    cat >&2 <<'MSG'
No CPython 3.10 found for the bot environment (Rasa 3.6 runs on Python 3.8-3.10).
Get one, then run make again:
  uv python install 3.10          # if you have uv (https://docs.astral.sh/uv/)
  pyenv install 3.10              # if you use pyenv
  sudo apt install python3.10-venv   # or your distribution's python3.10 package
or point BOT_PYTHON at an interpreter: make run BOT_PYTHON=/path/to/python3.10
MSG
    ;;
  backend)
    echo "No Python 3.11 or newer found for the backend; install one or set BACKEND_PYTHON=/path/to/python3.11+." >&2
    ;;
esac
exit 1
