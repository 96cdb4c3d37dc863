# Shared set-up for scripts/demo and scripts/test: sourced, not run.
# Creates .venv on a fresh machine and (re)installs the project when pyproject.toml changed.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
# The checks of deploy/ (scripts/test): checkov and check-jsonschema, pinned, in a virtual environment of their own
# (their pins are not the project's).
CHECKOV_VENV="$REPO_ROOT/.venv-checkov"
CHECKOV_REQUIREMENTS=("checkov==3.3.30" "check-jsonschema==0.39.0")

ensure_venv() {
  local python="${PYTHON:-python3}"
  local stamp="$VENV/.ctfluent-installed"
  local want
  want="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$python" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing ctfluent-dagster and its dev tools into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$REPO_ROOT[dev]"
    echo "$want" > "$stamp"
  fi
}

ensure_checkov_venv() {
  local python="${PYTHON:-python3}"
  local stamp="$CHECKOV_VENV/.ctfluent-installed"
  local want="${CHECKOV_REQUIREMENTS[*]}"
  if [ ! -x "$CHECKOV_VENV/bin/python" ]; then
    echo "==> creating $CHECKOV_VENV"
    "$python" -m venv "$CHECKOV_VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing $want into $CHECKOV_VENV"
    "$CHECKOV_VENV/bin/python" -m pip install --quiet --upgrade pip
    "$CHECKOV_VENV/bin/python" -m pip install --quiet "${CHECKOV_REQUIREMENTS[@]}"
    echo "$want" > "$stamp"
  fi
}

ensure_postgres() {
  # The ledger and Dagster-on-PostgreSQL tests use the machine's PostgreSQL on 127.0.0.1:5432.
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    return
  fi
  echo "==> starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && return
    sleep 1
  done
  echo "PostgreSQL is not running on 127.0.0.1:5432 and could not be started" >&2
  return 1
}

ensure_chromium() {
  # The UI test drives Debian's Chromium (Playwright's own browser download cannot reach the internet).
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  echo "==> installing Debian's chromium"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
}
