/*
 * upgrade v2, stateless (built to upgrade-v2-stateless.wasm): v2.c without
 * stark_restore. Same messages and replies as v2 ("version": 2), and it
 * exports stark_snapshot; but it does not take over the old instance's
 * state: after a hot upgrade to it, total and count start at zero.
 */
#define UPGRADE_V2_NO_RESTORE
#define UPGRADE_V2_NAME "upgrade-v2-stateless"
#include "v2.c"
