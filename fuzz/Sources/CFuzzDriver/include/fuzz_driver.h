#ifndef AGENTSHOP_FUZZ_DRIVER_H
#define AGENTSHOP_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver with `one_input` as the target. SwiftPM links an executable target's
/// entry point as `<Target>_main`, so libFuzzer's own `main` is never used: each target's entry
/// calls this instead.
int agentshop_fuzz_main(int argc, char **argv, int (*one_input)(const uint8_t *data, size_t size));

#endif
