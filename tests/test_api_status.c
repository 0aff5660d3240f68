/*
 * adxl_status_str and adxl_version: never NULL, a distinct name for every status code,
 * something (not NULL, not a known name) for unknown values; and the NULL-engine /
 * NULL-stats paths of adxl_get_stats.
 */
#include "test_api_util.h"

#include <sys/wait.h>

static const adxl_status_t known[] = {
    ADXL_SUCCESS,       ADXL_PARAM_INVALID,      ADXL_TIMEOUT,
    ADXL_NOT_CONNECTED, ADXL_ALREADY_CONNECTED,  ADXL_NOTIFY_FAILED,
    ADXL_UNSUPPORTED,   ADXL_RESOURCE_EXHAUSTED, ADXL_FAILED,
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static void test_values(void) {
    /* The numeric values are ADXL's own. */
    CHECK(ADXL_SUCCESS == 0u);
    CHECK(ADXL_PARAM_INVALID == 103900u);
    CHECK(ADXL_TIMEOUT == 103901u);
    CHECK(ADXL_NOT_CONNECTED == 103902u);
    CHECK(ADXL_ALREADY_CONNECTED == 103903u);
    CHECK(ADXL_NOTIFY_FAILED == 103904u);
    CHECK(ADXL_UNSUPPORTED == 103905u);
    CHECK(ADXL_RESOURCE_EXHAUSTED == 203900u);
    CHECK(ADXL_FAILED == 503900u);
}

static void test_known_names(void) {
    const char *names[NKNOWN];
    for (size_t i = 0; i < NKNOWN; i++) {
        names[i] = adxl_status_str(known[i]);
        CHECK(names[i] != NULL);
        if (names[i] == NULL) names[i] = "";
        CHECK(names[i][0] != '\0');
        /* Stable: asking again gives the same text. */
        const char *again = adxl_status_str(known[i]);
        CHECK(again != NULL && strcmp(again, names[i]) == 0);
    }
    for (size_t i = 0; i < NKNOWN; i++) {
        for (size_t j = i + 1; j < NKNOWN; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                fprintf(stderr, "status %u and %u share the name \"%s\"\n", known[i], known[j],
                        names[i]);
                CHECK(false);
            } else {
                CHECK(true);
            }
        }
    }
}

static void test_unknown_names(void) {
    static const adxl_status_t unknown[] = {
        1u,      2u,      103899u, 103906u,     103999u,     203899u,     203901u,
        503899u, 503901u, 65535u,  0x7fffffffu, 0x80000000u, 0xffffffffu,
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *s = adxl_status_str(unknown[i]);
        CHECK(s != NULL);
        if (s == NULL) continue;
        CHECK(s[0] != '\0');
        /* An unknown value must not be reported as one of the known codes. */
        for (size_t k = 0; k < NKNOWN; k++) {
            const char *kn = adxl_status_str(known[k]);
            if (kn != NULL && strcmp(s, kn) == 0) {
                fprintf(stderr, "unknown status %u is named like %u: \"%s\"\n", unknown[i],
                        known[k], s);
                CHECK(false);
            }
        }
    }
}

static void test_version(void) {
    const char *v = adxl_version();
    CHECK(v != NULL);
    if (v == NULL) return;
    CHECK(v[0] != '\0');
    CHECK(strlen(v) < 256);
    const char *again = adxl_version();
    CHECK(again != NULL && strcmp(again, v) == 0);
}

static void test_stats_args(void) {
    adxl_stats_t stats;
    CHECK_STATUS(adxl_get_stats(NULL, &stats), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_stats(NULL, NULL), ADXL_PARAM_INVALID);

    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_get_stats(e, NULL), ADXL_PARAM_INVALID);
    memset(&stats, 0xa5, sizeof(stats));
    CHECK_STATUS(adxl_get_stats(e, &stats), ADXL_SUCCESS);
    /* Counters since initialize: a fresh engine has done nothing. */
    CHECK(stats.batches_direct == 0);
    CHECK(stats.batches_buffered == 0);
    CHECK(stats.bytes_written == 0);
    CHECK(stats.bytes_read == 0);
    CHECK(stats.frames_served == 0);
    CHECK(stats.frames_refused == 0);
    CHECK(stats.links_dropped == 0);
    adxl_engine_destroy(e);
}

/*
 * Logging: every PARAM_INVALID logs exactly one line at "error" (the default level) and
 * nothing at "none"; successful calls log nothing at "error". The program re-runs itself
 * with --log-child under each ADXL_LOG_LEVEL, stderr captured; the child writes a marker
 * line before each call so that the lines each call logged can be counted.
 */
#define N_LOG_CALLS 10

static void mark(int k) {
    fprintf(stderr, "MARK %d\n", k);
    fflush(stderr);
}

static int log_child(void) {
    void *p = NULL;
    adxl_notify_t n;
    size_t count = 0;
    char long_name[1100];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    adxl_engine_t *e = NULL;
    adxl_engine_t *u = NULL;
    mark(0);
    adxl_engine_create(NULL);
    mark(1);
    adxl_malloc_mem(ADXL_MEM_HOST, 0, &p);
    mark(2);
    adxl_free_mem(NULL);
    mark(3);
    if (adxl_engine_create(&u) != ADXL_SUCCESS) return 2;
    adxl_initialize(u, "junk", NULL, 0);
    mark(4);
    adxl_option_t bad = {"NoSuchOption", "1"};
    adxl_initialize(u, "127.0.0.1", &bad, 1);
    mark(5);
    /* Successful calls: nothing at "error". */
    if (adxl_engine_create(&e) != ADXL_SUCCESS || adxl_initialize(e, "127.0.0.1:0", NULL, 0))
        return 2;
    adxl_stats_t st;
    adxl_get_stats(e, &st);
    mark(6);
    adxl_connect(e, "junk", 100);
    mark(7);
    adxl_register_mem(e, NULL, ADXL_MEM_HOST, NULL);
    mark(8);
    adxl_get_notifies(e, NULL, 1, &count);
    mark(9);
    adxl_send_notify(e, "127.0.0.1:1", long_name, "m", 100);
    mark(10);
    (void)n;
    adxl_engine_destroy(e);
    adxl_engine_destroy(u);
    return 0;
}

/* Lines each call logged: counts[k] for the call between MARK k and MARK k+1. */
static bool run_log_child(const char *level, int counts[N_LOG_CALLS]) {
    extern char **environ;
    char *envp[256];
    size_t ne = 0;
    static char setting[64];
    for (char **v = environ; *v != NULL && ne < 250; v++)
        if (strncmp(*v, "ADXL_LOG_LEVEL=", 15) != 0) envp[ne++] = *v;
    if (level != NULL) {
        snprintf(setting, sizeof(setting), "ADXL_LOG_LEVEL=%s", level);
        envp[ne++] = setting;
    }
    envp[ne] = NULL;
    int fds[2];
    if (pipe(fds) != 0) return false;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        char *args[] = {"test_api_status", "--log-child", NULL};
        execve("/proc/self/exe", args, envp);
        _exit(127);
    }
    close(fds[1]);
    static char out[65536];
    size_t len = 0;
    uint64_t deadline = tu_now_ms() + 30000;
    for (;;) {
        if (tu_now_ms() > deadline || len + 1 >= sizeof(out)) break;
        ssize_t r = read(fds[0], out + len, sizeof(out) - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "log child (%s) failed:\n%s\n", level ? level : "unset", out);
        return false;
    }
    int cur = -1, seen = 0;
    for (int k = 0; k < N_LOG_CALLS; k++)
        counts[k] = 0;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        int m;
        if (sscanf(line, "MARK %d", &m) == 1) {
            cur = m;
            seen++;
        } else if (cur >= 0 && cur < N_LOG_CALLS) {
            counts[cur]++;
        }
    }
    return seen == N_LOG_CALLS + 1;
}

static void test_logging(void) {
    /* Calls 0-4 and 6-9 are PARAM_INVALID; 5 is a successful get_stats. */
    static const char *const levels[] = {"error", NULL, "none"};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        int counts[N_LOG_CALLS];
        bool ran = run_log_child(levels[l], counts);
        CHECK(ran);
        if (!ran) continue;
        int per_invalid = levels[l] != NULL && strcmp(levels[l], "none") == 0 ? 0 : 1;
        for (int k = 0; k < N_LOG_CALLS; k++) {
            int want = k == 5 ? 0 : per_invalid;
            if (counts[k] != want)
                fprintf(stderr, "ADXL_LOG_LEVEL=%s: call %d logged %d lines, expected %d\n",
                        levels[l] ? levels[l] : "(unset)", k, counts[k], want);
            CHECK(counts[k] == want);
        }
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--log-child") == 0) return log_child();
    test_logging();
    test_values();
    test_known_names();
    test_unknown_names();
    test_version();
    test_stats_args();
    return tu_finish();
}
