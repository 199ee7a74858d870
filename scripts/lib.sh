# Shared helpers for scripts/up and scripts/test. Sourced, not run.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages that are missing (root, non-interactive). Each argument is "command:package" or
# "path:package": the package is installed only when the command/path is absent.
ensure_packages() {
    local missing=() item probe pkg
    for item in "$@"; do
        probe="${item%%:*}"; pkg="${item#*:}"
        if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] && continue
        else command -v "$probe" >/dev/null 2>&1 && continue; fi
        missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); run as root or install them"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

require_swift() {
    command -v swift >/dev/null 2>&1 || [[ -x /opt/swift/usr/bin/swift ]] || \
        die "Swift 6 is required (https://www.swift.org/install); 'swift' is not on PATH"
    command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
}

# The directory holding initdb/pg_ctl of the newest installed PostgreSQL.
postgres_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n "$dir" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    echo "$dir"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
