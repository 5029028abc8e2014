// SPDX-License-Identifier: Apache-2.0
// The message-order table (R12): walk every cell and check its invariants.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "handshake/table.hpp"

namespace lockstep::handshake {
namespace {

constexpr Role kRoles[] = {Role::client, Role::server};

TEST(Table, EveryCellHasAtMostOneRowAndUnlistedCellsReject) {
    int listed = 0;
    for (Role r : kRoles)
        for (int s = 0; s < kStateCount; ++s)
            for (int m = 1; m < kMsgTypeCount; ++m) {
                int rows = 0;
                for (const auto& t : kTransitions)
                    rows += t.role == r && t.from == static_cast<State>(s) && t.msg == static_cast<MsgType>(m);
                EXPECT_LE(rows, 1);
                auto hit = lookup(r, static_cast<State>(s), static_cast<MsgType>(m));
                EXPECT_EQ(hit.has_value(), rows == 1);
                listed += rows;
            }
    EXPECT_EQ(listed, static_cast<int>(kTransitions.size()));
}

TEST(Table, ClosedAndStartAcceptNoRecord) {
    for (Role r : kRoles)
        for (int m = 1; m < kMsgTypeCount; ++m) {
            EXPECT_FALSE(lookup(r, State::closed, static_cast<MsgType>(m)));
            if (!(r == Role::server && m == static_cast<int>(MsgType::hello))) {
                EXPECT_FALSE(lookup(r, State::start, static_cast<MsgType>(m)));
            }
        }
}

TEST(Table, CloseIsAcceptedInEveryStateWithKeys) {
    // Seed: "rcv CLOSE will lead to state CLOSED with the action snd CLOSE ACK" in all states.
    const State client_keyed[] = {State::idle, State::wait_response, State::rekey_wait_ack, State::wait_close_ack};
    const State server_keyed[] = {State::idle, State::serving, State::wait_data_ack, State::rekey_wait_hello_ack,
                                  State::wait_close_ack};
    for (State s : client_keyed) {
        auto t = lookup(Role::client, s, MsgType::close);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->action, Action::on_close);
        EXPECT_EQ(t->to, State::closed);
    }
    for (State s : server_keyed) {
        auto t = lookup(Role::server, s, MsgType::close);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->to, State::closed);
    }
}

TEST(Table, RolesOnlyHandleTheirPeersMessages) {
    for (const auto& t : kTransitions) {
        if (t.role == Role::client) {
            EXPECT_NE(t.msg, MsgType::data_request);
            EXPECT_NE(t.msg, MsgType::data_ack);
        } else {
            EXPECT_NE(t.msg, MsgType::data_response);
        }
    }
}

TEST(Table, CloseAckOnlyWhileWaitingForIt) {
    for (const auto& t : kTransitions)
        if (t.msg == MsgType::close_ack) {
            EXPECT_EQ(t.from, State::wait_close_ack);
        }
}

TEST(Table, WaitCloseAckOnlyClosesOrIgnores) {
    // Whatever crossed our CLOSE (data, a re-key message) is dropped; only the
    // close messages move the state, and no initial handshake message is accepted.
    for (const auto& t : kTransitions) {
        if (t.from != State::wait_close_ack) continue;
        const bool closing = t.msg == MsgType::close || t.msg == MsgType::close_ack ||
                             t.msg == MsgType::closed_without_ack;
        EXPECT_EQ(t.action == Action::ignore, !closing) << msg_type_name(t.msg);
        EXPECT_EQ(t.to, closing ? State::closed : State::wait_close_ack);
    }
    EXPECT_FALSE(lookup(Role::server, State::wait_close_ack, MsgType::hello));
    EXPECT_FALSE(lookup(Role::client, State::wait_close_ack, MsgType::hello_ack));
}

TEST(Table, TargetsAreReachableStatesAndRekeyHasBothOutcomes) {
    for (const auto& t : kTransitions) {
        EXPECT_NE(t.to, State::start);
        EXPECT_NE(t.alt, State::start);
    }
    auto t = lookup(Role::server, State::wait_data_ack, MsgType::data_ack);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, State::idle);
    EXPECT_EQ(t->alt, State::rekey_wait_hello_ack);
    t = lookup(Role::server, State::rekey_wait_hello_ack, MsgType::data_request);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->action, Action::stash_request);
}

}  // namespace
}  // namespace lockstep::handshake
