// SPDX-License-Identifier: Apache-2.0
// The Spin model (tests/model/lockstep.pml) and the engine's transition table
// (src/handshake/table.cpp, handshake::kTransitions) must hold the same rows.
//
// Every row of the model's c_lookup / s_lookup is one line:
//   :: (st[S] == WAIT_DATA_ACK && cur_type == DATA_ACK) -> ROW(on_data_ack, IDLE, REKEY_WAIT_HELLO_ACK) /* row: server wait_data_ack data_ack on_data_ack idle rekey_wait_hello_ack */
// The test reads both the guard and the comment, checks they agree with each
// other and with the lookup they sit in, and compares the set of rows
// (role, state, message, action, to, alt) with kTransitions in both directions.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "handshake/table.hpp"

namespace lockstep::handshake {
namespace {

// The enumerators' own spelling (engine.hpp, types.hpp), in enum order.
constexpr std::array<const char*, kStateCount> kStateIds = {
    "start",         "wait_hello_ack",       "wait_ack",       "idle",           "wait_response", "serving",
    "wait_data_ack", "rekey_wait_hello_ack", "rekey_wait_ack", "wait_close_ack", "closed",
};
constexpr std::array<const char*, kMsgTypeCount - 1> kMsgIds = {
    "hello",       "hello_ack",   "ack",   "data_request", "data_response",
    "data_ack",    "resend_last", "close", "close_ack",    "closed_without_ack",
};

const char* state_id(State s) { return kStateIds.at(static_cast<std::size_t>(s)); }
const char* msg_id(MsgType m) { return kMsgIds.at(static_cast<std::size_t>(m) - 1); }

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

// role, from, msg, action, to, alt (the table's spelling)
using Row = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string>;

std::string show(const Row& r) {
    return std::get<0>(r) + " " + std::get<1>(r) + " " + std::get<2>(r) + " -> " + std::get<3>(r) + ", to " +
           std::get<4>(r) + ", alt " + std::get<5>(r);
}

std::string model_path() { return std::string(LOCKSTEP_SOURCE_DIR) + "/tests/model/lockstep.pml"; }

std::vector<std::string> model_lines() {
    std::ifstream in(model_path());
    EXPECT_TRUE(in) << "cannot read " << model_path();
    std::vector<std::string> v;
    for (std::string ln; std::getline(in, ln);) v.push_back(ln);
    return v;
}

std::set<Row> table_rows() {
    std::set<Row> rows;
    for (const auto& t : kTransitions)
        rows.insert({t.role == Role::client ? "client" : "server", state_id(t.from), msg_id(t.msg),
                     action_name(t.action), state_id(t.to), state_id(t.alt)});
    EXPECT_EQ(rows.size(), kTransitions.size()) << "kTransitions holds a row twice";
    return rows;
}

struct ModelRows {
    std::set<Row> rows;
    std::vector<std::string> problems;
    int lines = 0;
};

ModelRows parse_model() {
    static const std::regex guard(
        R"(^\s*::\s*\(st\[([CS])\] == (\w+) && cur_type == (\w+)\)\s*->\s*ROW\((\w+), (\w+), (\w+)\)\s*)"
        R"(/\* row: (client|server) (\w+) (\w+) (\w+) (\w+) (\w+) \*/\s*$)");
    ModelRows out;
    std::string lookup;  // the inline the line is in: c_lookup / s_lookup / other
    int n = 0;
    for (const std::string& ln : model_lines()) {
        ++n;
        if (ln.rfind("inline ", 0) == 0) lookup = ln.substr(7, ln.find('(') - 7);
        const bool tagged = ln.find("/* row:") != std::string::npos;
        const bool in_table = lookup == "c_lookup" || lookup == "s_lookup";
        if (!tagged) {
            if (in_table && ln.find(":: (st[") != std::string::npos)
                out.problems.push_back("line " + std::to_string(n) + ": a guard in " + lookup + " without a row comment");
            continue;
        }
        std::smatch m;
        const std::string where = "lockstep.pml line " + std::to_string(n) + ": ";
        if (!std::regex_match(ln, m, guard)) {
            out.problems.push_back(where + "row comment not in the expected form: " + ln);
            continue;
        }
        ++out.lines;
        const std::string side = m[1], g_state = m[2], g_msg = m[3], g_act = m[4], g_to = m[5], g_alt = m[6];
        const std::string role = m[7], from = m[8], msg = m[9], act = m[10], to = m[11], alt = m[12];
        const std::string expected_lookup = role == "client" ? "c_lookup" : "s_lookup";
        if (lookup != expected_lookup) out.problems.push_back(where + "a " + role + " row inside " + lookup);
        if ((side == "C") != (role == "client")) out.problems.push_back(where + "guard st[" + side + "] for a " + role + " row");
        if (g_state != upper(from)) out.problems.push_back(where + "guard state " + g_state + ", comment " + from);
        if (g_msg != upper(msg)) out.problems.push_back(where + "guard message " + g_msg + ", comment " + msg);
        if (g_act != act) out.problems.push_back(where + "ROW action " + g_act + ", comment " + act);
        if (g_to != upper(to)) out.problems.push_back(where + "ROW to " + g_to + ", comment " + to);
        if (g_alt != upper(alt)) out.problems.push_back(where + "ROW alt " + g_alt + ", comment " + alt);
        if (!out.rows.insert({role, from, msg, act, to, alt}).second)
            out.problems.push_back(where + "row listed twice: " + show({role, from, msg, act, to, alt}));
    }
    return out;
}

TEST(ModelTableSync, EveryModelRowIsWellFormed) {
    const ModelRows model = parse_model();
    EXPECT_GT(model.lines, 0) << "no rows found in " << model_path();
    for (const auto& p : model.problems) ADD_FAILURE() << p;
}

TEST(ModelTableSync, EveryTableRowIsInTheModel) {
    const ModelRows model = parse_model();
    for (const Row& r : table_rows())
        if (!model.rows.count(r)) ADD_FAILURE() << "table.cpp row missing from lockstep.pml: " << show(r);
}

TEST(ModelTableSync, EveryModelRowIsInTheTable) {
    const std::set<Row> table = table_rows();
    for (const Row& r : parse_model().rows)
        if (!table.count(r)) ADD_FAILURE() << "lockstep.pml row not in table.cpp (kTransitions): " << show(r);
}

// The model's names for states and messages are the enumerators in upper case.
TEST(ModelTableSync, ModelDeclaresEveryStateAndMessage) {
    std::string all;
    for (const auto& ln : model_lines()) all += ln + "\n";
    std::string decls;
    static const std::regex mtype(R"(mtype\s*=\s*\{([^}]*)\})");
    for (std::sregex_iterator it(all.begin(), all.end(), mtype), end; it != end; ++it) decls += (*it)[1].str() + ",";
    std::set<std::string> names;
    std::stringstream ss(decls);
    for (std::string tok; std::getline(ss, tok, ',');) {
        tok.erase(std::remove_if(tok.begin(), tok.end(), [](unsigned char c) { return std::isspace(c); }), tok.end());
        if (!tok.empty()) names.insert(tok);
    }
    for (const char* s : kStateIds) EXPECT_TRUE(names.count(upper(s))) << "state " << s << " not declared in the model";
    for (const char* m : kMsgIds) EXPECT_TRUE(names.count(upper(m))) << "message " << m << " not declared in the model";
}

// Table <-> code: every action of the table has its handler in the engine's
// dispatch (src/session/*.cpp names it), every clear frame and record is looked up in the table and run through
// run_row, which checks the state a handler left against allowed_after — the
// same exception the model's handle_row allows (on_data_ack may end in SERVING).
std::string session_code() {
    std::string all;
    for (const char* f : {"/src/session/engine.cpp", "/src/session/send.cpp", "/src/session/receive.cpp"}) {
        std::ifstream in(std::string(LOCKSTEP_SOURCE_DIR) + f);
        if (!in) continue;
        std::stringstream ss;
        ss << in.rdbuf();
        all += ss.str();
    }
    return all;
}

TEST(ModelTableSync, EveryActionHasItsHandlerInTheCode) {
    const std::string code = session_code();
    ASSERT_FALSE(code.empty());
    std::set<std::string> actions;
    for (const auto& t : kTransitions) actions.insert(action_name(t.action));
    for (const std::string& a : actions) {
        const bool handled = std::regex_search(code, std::regex("Action::" + a + "[^a-z_]"));
        EXPECT_TRUE(handled) << "action " << a << " of the table has no handler in src/session";
    }
    // Clear frames and records both go through the table and the row check.
    EXPECT_NE(code.find("lookup(cfg_.role, state_, MsgType::hello)"), std::string::npos);
    EXPECT_NE(code.find("lookup(cfg_.role, state_, MsgType::hello_ack)"), std::string::npos);
    EXPECT_NE(code.find("lookup(e.cfg_.role, e.state_, m.type)"), std::string::npos);
    EXPECT_NE(code.find("handshake::allowed_after(row, s)"), std::string::npos);
}

// The order of dispatch's first checks, in the engine and in the model: a
// body over max_data (fatal under both policies, spec §8.6 step 3), then the
// ttl, then the table. The model has no clock (README.md: an expired message
// is a corrupted one), so its dispatch starts with the max_data check and the
// table lookup follows.
TEST(ModelTableSync, DispatchChecksMaxDataFirst) {
    const std::string code = session_code();
    const auto at = code.find("Status I::dispatch(");
    ASSERT_NE(at, std::string::npos);
    const std::string body = code.substr(at, code.find("\n}\n", at) - at);
    const auto max_data = body.find("m.body.size() > e.cfg_.max_data");
    const auto ttl = body.find("check_ttl(");
    const auto table = body.find("handshake::lookup(");
    ASSERT_NE(max_data, std::string::npos) << "dispatch no longer checks max_data: change the model's dispatch";
    EXPECT_LT(max_data, ttl);
    EXPECT_LT(ttl, table);

    std::string model;
    for (const auto& ln : model_lines()) model += ln + "\n";
    const auto m_at = model.find("inline dispatch(me) {");
    ASSERT_NE(m_at, std::string::npos);
    const std::string m_body = model.substr(m_at, model.find("\n}\n", m_at) - m_at);
    const auto m_big = m_body.find("(cur_type == DATA_REQUEST || cur_type == DATA_RESPONSE) && cur_big ->");
    const auto m_lookup = m_body.find("lookup(me)");
    ASSERT_NE(m_big, std::string::npos) << "the model's dispatch lacks the max_data check";
    EXPECT_LT(m_big, m_lookup);
    EXPECT_NE(m_body.find("req_fail(me)", m_big), std::string::npos);
    EXPECT_LT(m_body.find("req_fail(me)", m_big), m_lookup) << "over max_data must be fatal (req_fail) in the model";
}

TEST(ModelTableSync, AllowedAfterIsTheModelsRowCheck) {
    std::string all;
    for (const auto& ln : model_lines()) all += ln + "\n";
    EXPECT_NE(all.find("(act == on_data_ack && st[me] == SERVING && TOLERANT)"), std::string::npos)
        << "the model's handle_row exception changed: change handshake::allowed_after with it";
    for (const auto& t : kTransitions) {
        EXPECT_TRUE(allowed_after(t, t.to)) << action_name(t.action);
        EXPECT_TRUE(allowed_after(t, t.alt)) << action_name(t.action);
        for (int i = 0; i < kStateCount; ++i) {
            const State s = static_cast<State>(i);
            const bool exception = t.action == Action::on_data_ack && s == State::serving;
            if (s != t.to && s != t.alt && !exception) {
                EXPECT_FALSE(allowed_after(t, s)) << action_name(t.action);
            }
        }
    }
}

}  // namespace
}  // namespace lockstep::handshake
