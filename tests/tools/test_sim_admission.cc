// Admission: the batch limit hands slots to waiters in FIFO order, rejects
// beyond the queue bound, and an abandoned waiter never leaks a slot.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <memory>

#include "tools/sim_worker/admission.h"

using radixmesh::tools::sim::Admission;

TEST_CASE("slots, FIFO hand-over, queue bound and abandonment") {
  boost::asio::io_context ioc;
  auto ex = ioc.get_executor();
  Admission adm(1, 2);
  auto w = [&] { return std::make_shared<Admission::Waiter>(ex); };
  auto a = w(), b = w(), c = w(), d = w();
  CHECK(adm.try_acquire(a) == Admission::Try::kGranted);
  CHECK(adm.try_acquire(b) == Admission::Try::kQueued);
  CHECK(adm.try_acquire(c) == Admission::Try::kQueued);
  CHECK(adm.try_acquire(d) == Admission::Try::kRejected);
  CHECK(adm.in_flight() == 1);
  CHECK(adm.queued() == 2);

  adm.release();  // a's slot passes to b, the oldest waiter
  CHECK(adm.granted(b));
  CHECK_FALSE(adm.granted(c));
  CHECK(adm.in_flight() == 1);
  CHECK(adm.queued() == 1);

  adm.abandon(c);  // c leaves the queue before its turn
  CHECK(adm.queued() == 0);
  adm.abandon(b);  // b was granted: abandoning releases its slot
  CHECK(adm.in_flight() == 0);

  auto e = w();
  CHECK(adm.try_acquire(e) == Admission::Try::kGranted);
  ioc.run();  // the posted wake-ups run without effect on finished waiters
}
