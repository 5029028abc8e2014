-- SPDX-License-Identifier: Apache-2.0
-- Wireshark dissector for lockstep version 1 (docs/PROTOCOL.md §6): the clear
-- parts of every message. TCP: u16 length-prefixed messages; UDP: one message per
-- datagram. Records (frame 0x17) show their header (epoch, record number) and the
-- length of the ciphertext; their contents are not decrypted here.
-- There is no assigned port: Decode As... lockstep, or in tshark
--   tshark -X lua_script:lockstep.lua -d tcp.port==7400,lockstep -d udp.port==7400,lockstep
-- or set the ports in Preferences > Protocols > lockstep (tcp_ports, udp_ports).
local p = Proto("lockstep", "lockstep secure channel")

local frames = { [0x01] = "HELLO", [0x02] = "HELLO ACK", [0x03] = "COOKIE", [0x04] = "HELLO behind cookie/padding",
                 [0x08] = "clear CLOSE", [0x17] = "record" }
local suites = { [1] = "aes256gcm", [2] = "chacha20poly1305", [3] = "aes256gcm-hmac-sha512" }
local modes = { [1] = "cert", [2] = "psk", [3] = "cert+psk", [4] = "psk-only" }
local reasons = { [0] = "normal", "timeout", "bad_mac", "unexpected_message", "bad_sequence", "expired", "old_epoch",
                  "replay", "decode_error", "downgrade", "bad_certificate", "bad_signature", "unknown_psk",
                  "no_common_parameters", "limit_exceeded", "internal_error", "shutdown", "resend_exhausted", "revoked" }

local f = {
    length = ProtoField.uint16("lockstep.length", "Length (TCP framing)"),
    frame = ProtoField.uint8("lockstep.frame", "Frame", base.HEX, frames),
    version = ProtoField.uint8("lockstep.version", "Version"),
    versions = ProtoField.bytes("lockstep.versions", "Versions"),
    suite = ProtoField.uint8("lockstep.suite", "Suite", base.DEC, suites),
    suites = ProtoField.bytes("lockstep.suites", "Suites"),
    mode = ProtoField.uint8("lockstep.mode", "Mode", base.DEC, modes),
    modes = ProtoField.bytes("lockstep.modes", "Modes"),
    flags = ProtoField.uint8("lockstep.flags", "Flags", base.HEX),
    kx = ProtoField.uint8("lockstep.kx", "Kx", base.DEC, { [0] = "none", [1] = "X25519" }),
    share = ProtoField.bytes("lockstep.share", "Share"),
    random = ProtoField.bytes("lockstep.random", "Random"),
    seq = ProtoField.uint32("lockstep.seq", "Seq", base.HEX),
    ack = ProtoField.uint32("lockstep.ack", "Ack", base.HEX),
    ttl = ProtoField.uint32("lockstep.ttl", "ttl"),
    psk_id = ProtoField.string("lockstep.psk_id", "PSK identity"),
    mac = ProtoField.bytes("lockstep.mac", "MAC"),
    sealed_len = ProtoField.uint16("lockstep.sealed_len", "Sealed length"),
    sealed = ProtoField.bytes("lockstep.sealed", "Sealed (server auth)"),
    reason = ProtoField.uint8("lockstep.reason", "Reason", base.HEX, reasons),
    cookie = ProtoField.bytes("lockstep.cookie", "Cookie"),
    padding = ProtoField.uint16("lockstep.padding", "Padding length"),
    epoch = ProtoField.uint8("lockstep.epoch", "Epoch"),
    rn = ProtoField.uint32("lockstep.rn", "Record number"),
    ciphertext = ProtoField.bytes("lockstep.ciphertext", "Ciphertext and tag"),
}
p.fields = f
p.prefs.tcp_ports = Pref.range("TCP ports", "", "TCP ports to decode as lockstep", 65535)
p.prefs.udp_ports = Pref.range("UDP ports", "", "UDP ports to decode as lockstep", 65535)

local function list(t, tvb, off, count_field, list_field)
    local n = tvb(off, 1):uint()
    t:add(list_field, tvb(off + 1, n))
    return off + 1 + n
end

local function hello(t, tvb, off)
    off = list(t, tvb, off, nil, f.versions)
    off = list(t, tvb, off, nil, f.suites)
    off = list(t, tvb, off, nil, f.modes)
    t:add(f.flags, tvb(off, 1)); t:add(f.kx, tvb(off + 1, 1))
    local k = tvb(off + 2, 2):uint(); off = off + 4
    if k > 0 then t:add(f.share, tvb(off, k)) else t:add(f.random, tvb(off, 16)); k = 16 end
    off = off + k
    t:add(f.seq, tvb(off, 4)); t:add(f.ttl, tvb(off + 4, 4))
    local pl = tvb(off + 8, 1):uint(); off = off + 9
    if pl > 0 then
        t:add(f.psk_id, tvb(off, pl)); t:add(f.mac, tvb(off + pl, 16))
        return "HELLO psk_id=" .. tvb(off, pl):string()
    end
    return "HELLO"
end

local function hello_ack(t, tvb, off)
    t:add(f.version, tvb(off, 1)); t:add(f.suite, tvb(off + 1, 1)); t:add(f.mode, tvb(off + 2, 1))
    t:add(f.flags, tvb(off + 3, 1))
    local mode = tvb(off + 2, 1):uint()
    off = off + 4
    off = list(t, tvb, off, nil, f.versions)
    off = list(t, tvb, off, nil, f.suites)
    off = list(t, tvb, off, nil, f.modes)
    t:add(f.kx, tvb(off, 1))
    local k = tvb(off + 1, 2):uint(); off = off + 3
    if k > 0 then t:add(f.share, tvb(off, k)) else t:add(f.random, tvb(off, 16)); k = 16 end
    off = off + k
    t:add(f.seq, tvb(off, 4)); t:add(f.ack, tvb(off + 4, 4)); t:add(f.ttl, tvb(off + 8, 4))
    off = off + 12
    if mode ~= 1 then t:add(f.mac, tvb(off, 16)); off = off + 16 end
    local l = tvb(off, 2):uint()
    t:add(f.sealed_len, tvb(off, 2)); t:add(f.sealed, tvb(off + 2, l))
    return "HELLO ACK mode=" .. (modes[mode] or mode) .. " suite=" .. (suites[tvb(1, 1):uint()] or "?")
end

local function message(tvb, pinfo, tree)
    local t = tree:add(p, tvb())
    local frame = tvb(0, 1):uint()
    t:add(f.frame, tvb(0, 1))
    local info
    if frame == 0x01 then
        info = hello(t, tvb, 1)
    elseif frame == 0x02 then
        info = hello_ack(t, tvb, 1)
    elseif frame == 0x03 then
        t:add(f.ack, tvb(1, 4)); t:add(f.cookie, tvb(6, tvb(5, 1):uint()))
        info = "COOKIE"
    elseif frame == 0x04 then
        local n = tvb(1, 1):uint()
        if n > 0 then t:add(f.cookie, tvb(2, n)) end
        local pad = tvb(2 + n, 2):uint()
        t:add(f.padding, tvb(2 + n, 2))
        info = hello(t, tvb, 4 + n + pad + 1) .. (n > 0 and " (behind a cookie)" or " (padded)")
    elseif frame == 0x08 then
        t:add(f.reason, tvb(1, 1)); t:add(f.seq, tvb(2, 4)); t:add(f.ack, tvb(6, 4)); t:add(f.ttl, tvb(10, 4))
        info = "clear CLOSE reason=" .. (reasons[tvb(1, 1):uint()] or "?")
    elseif frame == 0x17 then
        t:add(f.epoch, tvb(1, 1)); t:add(f.rn, tvb(2, 4)); t:add(f.ciphertext, tvb(6))
        info = string.format("record epoch=%d rn=%d len=%d", tvb(1, 1):uint(), tvb(2, 4):uint(), tvb:len())
    else
        info = "unknown frame"
    end
    t:append_text(": " .. info)
    return info
end

local function add_info(pinfo, info)
    local old = tostring(pinfo.cols.info)
    if p.__multi and old ~= "" then pinfo.cols.info:append(", " .. info) else pinfo.cols.info:set(info) end
end

function p.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol:set("lockstep")
    if pinfo.port_type == 3 then  -- UDP: one message per datagram
        pinfo.cols.info:set(message(tvb, pinfo, tree))
        return tvb:len()
    end
    -- TCP: u16 length, then the message; ask for more bytes when split.
    local off, infos = 0, {}
    while off < tvb:len() do
        if tvb:len() - off < 2 then
            pinfo.desegment_offset = off; pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            break
        end
        local n = tvb(off, 2):uint()
        if tvb:len() - off - 2 < n then
            pinfo.desegment_offset = off; pinfo.desegment_len = n + 2 - (tvb:len() - off)
            break
        end
        tree:add(f.length, tvb(off, 2))
        infos[#infos + 1] = message(tvb(off + 2, n):tvb(), pinfo, tree)
        off = off + 2 + n
    end
    if #infos > 0 then pinfo.cols.info:set(table.concat(infos, ", ")) end
    return off
end

local registered = { tcp = {}, udp = {} }
function p.init()
    for proto, pref in pairs({ tcp = p.prefs.tcp_ports, udp = p.prefs.udp_ports }) do
        local table_ = DissectorTable.get(proto .. ".port")
        for _, port in ipairs(registered[proto]) do table_:remove(port, p) end
        registered[proto] = {}
        for lo, hi in tostring(pref):gmatch("(%d+)%-?(%d*)") do
            for port = tonumber(lo), tonumber(hi ~= "" and hi or lo) do
                table_:add(port, p); registered[proto][#registered[proto] + 1] = port
            end
        end
    end
end
DissectorTable.get("tcp.port"):add_for_decode_as(p)
DissectorTable.get("udp.port"):add_for_decode_as(p)
