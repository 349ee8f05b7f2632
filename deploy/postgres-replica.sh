#!/bin/sh
# The compose stack's PostgreSQL replica (docker-compose.scale.yml): on its
# first start it copies the primary ("db") with pg_basebackup, which writes
# standby.signal and the connection to follow (-R); every start then runs
# postgres as a hot standby, streaming the primary's WAL, and telling the
# primary what its queries still read (so a long export is not cancelled by
# the replay). Runs as the image's postgres user, with PGHOST, PGUSER and
# PGPASSWORD naming the primary.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # The primary may still be starting; a failed copy leaves nothing behind.
    until pg_basebackup --pgdata="$PGDATA" --wal-method=stream --write-recovery-conf --checkpoint=fast; do
        echo "pg_basebackup failed; trying again in 2 s" >&2
        sleep 2
    done
    chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby_feedback=on
