#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries are installed: the store tests start a throwaway
# PostgreSQL server from $(pg_config --bindir). Does nothing when they are there; otherwise
# installs Debian's postgresql package (needs root, or sudo). Prints where the binaries are.
set -euo pipefail

bindir() {
    command -v pg_config >/dev/null 2>&1 || return 1
    local dir
    dir="$(pg_config --bindir)" || return 1
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] || return 1
    echo "$dir"
}

if dir="$(bindir)"; then
    echo "PostgreSQL server binaries: $dir"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL server binaries not found (pg_config --bindir) and no apt-get here:" >&2
    echo "install the PostgreSQL server (initdb, pg_ctl, postgres) and pg_config." >&2
    exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "PostgreSQL server binaries not found; run as root to install them:" >&2
        echo "  apt-get install postgresql libpq-dev" >&2
        exit 1
    fi
    as_root=(sudo)
fi

echo "Installing the PostgreSQL server (Debian package postgresql)..."
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
# libpq-dev brings pg_config, which tells where the server binaries are
"${as_root[@]}" apt-get install -y -q --no-install-recommends postgresql libpq-dev

if dir="$(bindir)"; then
    echo "PostgreSQL server binaries: $dir"
else
    echo "PostgreSQL was installed but pg_config --bindir has no initdb/pg_ctl/postgres" >&2
    exit 1
fi
