// SPDX-License-Identifier: Apache-2.0
// The server loop's accepting side (loop.hpp): TCP connections from accept
// until their first complete frame, and the fd limit. spec: PROTOCOL.md §11.13
//
// How this works: an accepted connection is Pending — its fd, address, prefix
// and a budget entry of the lowest rank, no engine and no workspace — and is
// watched edge-triggered, so a peer that sent part of a frame and stopped
// does not wake the loop again. Each wake-up peeks at the frame header and
// asks the kernel how much is queued; once the whole first frame is there the
// connection becomes a Conn (engine, workspace, level-triggered) and reads it.
// Idle sockets therefore cost an fd and a few dozen bytes, are evicted first
// when a budget is full, and cost the accept loop no engine set-up.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "net/loop.hpp"

namespace lockstep::net::detail {

// Out of file descriptors: accept with the reserve fd and close at once,
// so waiting clients learn it and the listener stops being readable;
// without a reserve, stop watching the listener for a moment.
// Returns whether to try accepting again.
bool Loop::shed_at_fd_limit(Now now) {
    ++s_.rejected;
    log(log_fds_, "out of file descriptors: closing new TCP connections", now);
    if (reserve_fd_) {
        reserve_fd_.reset();
        Fd shed(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        shed.reset();
        reserve_fd_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (shed && reserve_fd_) return true;
    }
    (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
    accept_paused_until_ = now.mono + kAcceptPause;
    return false;
}

void Loop::resume_accepting(Now now) {
    if (!accept_paused_until_ || now.mono < *accept_paused_until_) return;
    accept_paused_until_.reset();
    if (!reserve_fd_) reserve_fd_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (listener_) watch(listener_.get(), kListenerId, EPOLLIN);
}

void Loop::accept_all(Now now) {
    for (int taken = 0; taken < kAcceptsPerWake; ++taken) {
        Address peer;
        peer.len = sizeof peer.ss;
        Fd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer.ss), &peer.len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if ((errno == EMFILE || errno == ENFILE) && shed_at_fd_limit(now)) continue;
            return;  // EAGAIN (or paused): the next wake-up
        }
        const PrefixKey p = prefix(peer);
        if (stopping_ || !admit(Transport::tcp, p, now)) continue;  // fd closes here: refused
        const std::uint64_t id = next_id_++;
        budget_.add(id, Transport::tcp, p, HalfOpenBudget::no_first_frame);
        ++s_.accepted;
        const std::int64_t deadline = (now.mono + s_.opts.first_frame_timeout).since_origin.count();
        auto it = pending_.emplace(id, Pending{std::move(fd), peer.str(), p, now.mono, deadline}).first;
        timers_.emplace(deadline, id);
        watch(it->second.fd.get(), id, kConnEvents | EPOLLET);  // reports a frame already there
    }
}

void Loop::on_first_frame(std::unordered_map<std::uint64_t, Pending>::iterator it, std::uint32_t events, Now now) {
    Pending& q = it->second;
    std::uint8_t header[kFrameHeader];
    const ssize_t n = ::recv(q.fd.get(), header, sizeof header, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return drop_pending(it);
    const bool gone = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;  // nothing more will come
    if (n < static_cast<ssize_t>(sizeof header)) return gone ? drop_pending(it) : void();
    const std::size_t len = std::size_t{header[0]} << 8 | header[1];
    if (len > Engine::max_message_size(cfg_tcp_.max_data)) return drop_pending(it);  // not a frame of ours
    int queued = 0;
    if (::ioctl(q.fd.get(), FIONREAD, &queued) != 0) return drop_pending(it);
    if (static_cast<std::size_t>(queued) < kFrameHeader + len) return gone ? drop_pending(it) : void();
    // The whole first frame is here: an engine for it, level-triggered from now.
    const std::uint64_t id = it->first;
    Pending p = std::move(q);
    pending_.erase(it);
    timers_.erase({p.deadline, id});
    budget_.rank(id, HalfOpenBudget::proved);
    Conn& c = add(Transport::tcp, id, std::move(p.address), p.prefix, now);
    c.created = p.created;  // its half-open time counts from accept
    c.fd = std::move(p.fd);
    set_nodelay(c.fd.get());
    watch(c.fd.get(), id, kConnEvents, EPOLL_CTL_MOD);
    read_stream(c, now);
    settle(c);
}

void Loop::drop_pending(std::unordered_map<std::uint64_t, Pending>::iterator it, bool failed) {
    timers_.erase({it->second.deadline, it->first});
    budget_.remove(it->first);
    --s_.half_open[index(Transport::tcp)];
    --s_.live;
    ++s_.closed;
    if (failed) ++s_.errors;
    pending_.erase(it);  // closes the socket (and so leaves the epoll set)
}

}  // namespace lockstep::net::detail
