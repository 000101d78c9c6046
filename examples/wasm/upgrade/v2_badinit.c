/*
 * upgrade v2, bad init (built to upgrade-v2-badinit.wasm): v2.c plus a
 * stark_init export that always fails: it calls stark_fail("refusing to
 * start") and returns status 8 (STARK_INTERNAL), whatever the init bytes.
 * An upgrade to it (or a spawn of it) must therefore fail, and the host
 * must keep or restart the old version. It exports stark_snapshot and
 * stark_restore like v2; messages as in v2.c (never reached).
 */
#define UPGRADE_V2_BAD_INIT
#define UPGRADE_V2_NAME "upgrade-v2-badinit"
#include "v2.c"
