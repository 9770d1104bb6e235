// Preloaded into a process (LD_PRELOAD) by bench/floor.sh: at exit, copies /proc/self/smaps to the
// file named by SMAPS_AT_EXIT, so the resident pages of each mapped file can be read at the end of
// a short-lived process such as `agentshop --version`.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((destructor)) static void copy_smaps(void) {
    const char *target = getenv("SMAPS_AT_EXIT");
    if (!target) return;
    int in = open("/proc/self/smaps", O_RDONLY), out = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buffer[65536];
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buffer, sizeof buffer)) > 0) {
        if (write(out, buffer, (size_t)n) != n) break;
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
}
