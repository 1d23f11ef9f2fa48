// C++ victim for the Threads section: a worker parked in member functions of a class in a
// namespace, in a template, and in a lambda, blocked in a condition variable wait; it throws
// and catches exceptions while it sets up.  Prints READY once parked; serves
// "report text|json" (gmr_write_report to stdout, then "DONE <result>") and exits on EOF.
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <pthread.h>

#include <gmr/gmr.h>

#define NOINLINE __attribute__((noinline))

namespace shop {

std::mutex lock;
std::condition_variable cv;
bool parked = false;
bool stopping = false;
volatile int sink;

class Warehouse {
  public:
    NOINLINE int wait_for_stock(int n)
    {
        std::unique_lock<std::mutex> guard(lock);
        parked = true;
        cv.notify_all();
        cv.wait(guard, [] { return stopping; }); // AT:wait_for_stock
        return n + 1;
    }
};

template <typename T> struct Queue {
    NOINLINE int drain(T value)
    {
        Warehouse w;
        int r = w.wait_for_stock(static_cast<int>(value)); // AT:drain
        sink = r;
        return r + 1;
    }
};

NOINLINE int risky(int n)
{
    try {
        if (n >= 0)
            throw std::runtime_error("checked at startup");
    } catch (const std::exception &e) {
        sink = static_cast<int>(std::strlen(e.what()));
    }
    Queue<long> q;
    int r = q.drain(n); // AT:risky
    return r + 1;
}

} // namespace shop

int main()
{
    gmr_setup_autorun(nullptr, nullptr, "victim-threads-cxx");
    std::thread worker([] {
        pthread_setname_np(pthread_self(), "cxx-worker");
        int r = shop::risky(3); // AT:lambda
        shop::sink = r;
    });
    {
        std::unique_lock<std::mutex> guard(shop::lock);
        shop::cv.wait(guard, [] { return shop::parked; });
    }
    std::printf("READY\n");
    std::fflush(stdout);
    char line[128];
    while (std::fgets(line, sizeof(line), stdin)) {
        if (std::strncmp(line, "report ", 7) == 0) {
            bool json = std::strncmp(line + 7, "json", 4) == 0;
            std::fflush(stdout);
            int r = gmr_write_report(1, json ? GMR_FORMAT_JSON : GMR_FORMAT_TEXT);
            std::printf("DONE %d\n", r);
            std::fflush(stdout);
        }
    }
    {
        std::lock_guard<std::mutex> guard(shop::lock);
        shop::stopping = true;
    }
    shop::cv.notify_all();
    worker.join();
    gmr_shutdown();
    return 0;
}
