#include <stdio.h>
#include <unistd.h>

#include <gmr/gmr.h>

static unsigned long requests;

/* Optional: a section of your own, written on libgmr's reporter thread. */
static int stats_section(gmr_writer *w, void *userdata)
{
    return gmr_writer_kv(w, "requests", "%lu", *(unsigned long *)userdata);
}

int main(void)
{
    static const struct gmr_version version = {"Example Org", "example-service", "1.2.3"};
    gmr_register_section("Request Stats", stats_section, &requests);
    gmr_setup_autorun(&version, NULL, NULL); /* before the main loop */

    printf("kill -USR2 %d for a report\n", (int)getpid());
    fflush(stdout);
    for (;;) { /* the main loop */
        requests++;
        sleep(1);
    }
}
