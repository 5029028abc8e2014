-- SPDX-License-Identifier: Apache-2.0
-- Wireshark dissector for lockstep version 1 (docs/PROTOCOL.md §6): the clear
-- parts of every message and, given a key log, the contents of every record.
-- TCP: u16 length-prefixed messages; UDP: one message per datagram.
-- There is no assigned port: Decode As... lockstep, or in tshark
--   tshark -X lua_script:lockstep.lua -d tcp.port==7400,lockstep -d udp.port==7400,lockstep
-- or set the ports in Preferences > Protocols > lockstep (tcp_ports, udp_ports).
--
-- Decryption: set Preferences > Protocols > lockstep > Key log file (tshark:
-- -o lockstep.keylog_file:PATH) to a file written by `lockstep request
-- --insecure-key-log PATH` (a build with the key log compiled in; format:
-- docs/PROTOCOL.md §10, "Key log file"). A connection is found in the key log by
-- its th2, the transcript hash over its clear HELLO and HELLO ACK (§5.4), which
-- the dissector computes from the capture. The keys are derived as §5.2 and §5.3
-- say; the HELLO ACK's sealed part and every record (initial ACK, data, re-key,
-- close) are then opened and their messages shown. Cryptography comes from
-- OpenSSL through luaossl (Debian: lua-luaossl): SHA-256, HKDF-Expand, HMAC-SHA-512
-- and the AEAD ciphers. luaossl takes no AAD, so the AEAD tag of suites 1 and 2 is
-- not checked (a wrong key shows as a malformed plaintext, which is refused);
-- suite 3's HMAC-SHA-512 covers the whole record and is checked. Connections are
-- told apart by addresses and ports: a UDP client that moved to another address
-- (§6.9) is not followed there.
local p = Proto("lockstep", "lockstep secure channel")

local ossl = nil
do
    local ok, m = pcall(function()
        return { cipher = require("openssl.cipher"), hmac = require("openssl.hmac"), kdf = require("openssl.kdf"),
                 digest = require("openssl.digest") }
    end)
    if ok then ossl = m end
end
local bxor = (bit32 and bit32.bxor) or (bit and bit.bxor)
local unpack_ = table.unpack or unpack

local frames = { [0x01] = "HELLO", [0x02] = "HELLO ACK", [0x03] = "COOKIE", [0x04] = "HELLO behind cookie/padding",
                 [0x08] = "clear CLOSE", [0x17] = "record", [0x19] = "record behind a connection id" }
local suites = { [1] = "aes256gcm", [2] = "chacha20poly1305", [3] = "aes256gcm-hmac-sha512" }
local modes = { [1] = "cert", [2] = "psk", [3] = "cert+psk", [4] = "psk-only" }
local reasons = { [0] = "normal", "timeout", "bad_mac", "unexpected_message", "bad_sequence", "expired", "old_epoch",
                  "replay", "decode_error", "downgrade", "bad_certificate", "bad_signature", "unknown_psk",
                  "no_common_parameters", "limit_exceeded", "internal_error", "shutdown", "resend_exhausted", "revoked" }
local types = { "HELLO", "HELLO ACK", "ACK", "DATA REQUEST", "DATA RESPONSE", "DATA ACK", "RESEND LAST", "CLOSE",
                "CLOSE ACK", "CLOSED WITHOUT ACK" }

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
    cid = ProtoField.bytes("lockstep.cid", "Connection id"),
    -- decrypted (needs the key log)
    plaintext = ProtoField.bytes("lockstep.plaintext", "Decrypted"),
    key_epoch = ProtoField.uint32("lockstep.key_epoch", "Epoch of the keys"),
    auth = ProtoField.string("lockstep.auth", "Authentication"),
    type = ProtoField.uint8("lockstep.type", "Message type", base.DEC, types),
    body_len = ProtoField.uint16("lockstep.body_len", "Body length"),
    data = ProtoField.bytes("lockstep.data", "Data"),
    text = ProtoField.string("lockstep.text", "Data (text)"),
    nonce = ProtoField.uint32("lockstep.nonce", "Nonce", base.HEX),
    cert = ProtoField.bytes("lockstep.cert", "Certificate"),
    sig = ProtoField.bytes("lockstep.sig", "Signature"),
    finished = ProtoField.bytes("lockstep.finished", "Finished"),
    note = ProtoField.string("lockstep.note", "Not decrypted"),
}
p.fields = f
p.prefs.tcp_ports = Pref.range("TCP ports", "", "TCP ports to decode as lockstep", 65535)
p.prefs.udp_ports = Pref.range("UDP ports", "", "UDP ports to decode as lockstep", 65535)
p.prefs.keylog_file = Pref.string("Key log file", "",
    "File written by `lockstep request --insecure-key-log` (docs/PROTOCOL.md §10); needs lua-luaossl")

-- ---------------------------------------------------------------- key log and keys
local keylog = {}  -- th2 (hex) -> { ["LABEL EPOCH"] = secret, last = highest epoch with keys }
local conns = {}   -- conversation -> { client, t1, th2, suite, secrets, keys }

local function unhex(h) return (h:gsub("..", function(b) return string.char(tonumber(b, 16)) end)) end
local function tohex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

local function load_keylog()
    keylog = {}
    local path = p.prefs.keylog_file
    if path == nil or path == "" then return end
    local file = io.open(path, "r")
    if not file then return end
    for line in file:lines() do
        local label, th2, epoch, value = line:match("^(%u[%u_%d]*) (%x+) (%d+) (%x+)%s*$")
        if label then
            th2 = th2:lower()
            local k = keylog[th2] or { last = 1 }
            keylog[th2] = k
            k[label .. " " .. epoch] = unhex(value)
            if label == "REKEY_C_AP_TRAFFIC" then k.last = math.max(k.last, tonumber(epoch) + 1) end
        end
    end
    file:close()
end

local th0
local function sha256(s) return ossl.digest.new("sha256"):final(s) end

-- HKDF-Expand-Label(secret, label, "", len), §5.2.
local function expand_label(secret, label, len)
    local full = "lockstep1 " .. label
    local info = string.char(math.floor(len / 256), len % 256, #full) .. full .. string.char(0)
    return ossl.kdf.derive({ type = "HKDF", md = "sha256", key = secret, info = info, outlen = len,
                             hkdf_mode = "expand_only" })
end

-- The traffic secret of epoch n in one direction, by its key log name (§10, §14).
local function secret_name(from_client, n)
    local side = from_client and "C" or "S"
    if n == 0 then return side .. "_HS_TRAFFIC 0" end
    if n == 1 then return side .. "_AP_TRAFFIC 0" end
    return "REKEY_" .. side .. "_AP_TRAFFIC " .. (n - 1)
end

local function traffic_keys(c, from_client, n)
    local name = secret_name(from_client, n)
    if c.keys[name] == nil then
        local ts = c.secrets and c.secrets[name]
        c.keys[name] = ts and { key = expand_label(ts, "key", 32), iv = expand_label(ts, "iv", 12),
                                etm = c.suite == 3 and expand_label(ts, "etm mac", 64) or nil } or false
    end
    return c.keys[name] or nil
end

-- nonce = iv XOR (0^8 || u32 rn), §5.3.
local function nonce(iv, rn)
    local b = { iv:byte(1, 12) }
    for i = 0, 3 do b[9 + i] = bxor(b[9 + i], math.floor(rn / 256 ^ (3 - i)) % 256) end
    return string.char(unpack_(b))
end

-- Opens ciphertext || tag [|| HMAC-SHA-512] under the keys of epoch n; returns the
-- plaintext and how it was authenticated, or nil and why not.
local function open(c, from_client, n, rn, aad, body)
    local k = traffic_keys(c, from_client, n)
    if not k then return nil, "no secret for epoch " .. n .. " in the key log" end
    local auth = "AEAD tag not checked (luaossl takes no AAD)"
    if c.suite == 3 then
        if #body < 16 + 64 then return nil, "too short" end
        local mac = body:sub(-64)
        body = body:sub(1, -65)
        if ossl.hmac.new(k.etm, "sha512"):final(aad .. body) ~= mac then return nil, "HMAC-SHA-512 does not verify" end
        auth = "HMAC-SHA-512 verified"
    end
    if #body < 16 then return nil, "too short" end
    local ok, pt = pcall(function()
        local aead = ossl.cipher.new(c.suite == 2 and "chacha20-poly1305" or "aes-256-gcm")
        return aead:decrypt(k.key, nonce(k.iv, rn)):update(body:sub(1, -17))
    end)
    if not ok or not pt then return nil, "decryption failed" end
    return pt, auth
end

-- A record plaintext (§6.5): type 1..10, header, body within it, zero padding <= 255.
local function plausible(pt)
    if #pt < 15 then return false end
    local ty, n = pt:byte(1), pt:byte(14) * 256 + pt:byte(15)
    if ty < 1 or ty > 10 or 15 + n > #pt or #pt - 15 - n > 255 then return false end
    return pt:find("[^\0]", 16 + n) == nil
end

-- ---------------------------------------------------------------- conversations
local function endpoints(pinfo)
    local src = tostring(pinfo.src) .. ":" .. pinfo.src_port
    local dst = tostring(pinfo.dst) .. ":" .. pinfo.dst_port
    local lo, hi = src, dst
    if lo > hi then lo, hi = hi, lo end
    return (pinfo.port_type == 3 and "udp " or "tcp ") .. lo .. " " .. hi, src
end

local function conversation(pinfo)
    local key, src = endpoints(pinfo)
    local c = conns[key]
    return c, c and src == c.client
end

local function on_hello(pinfo, t1)
    local key, src = endpoints(pinfo)
    conns[key] = { client = src, t1 = t1, keys = {} }
end

local function on_hello_ack(pinfo, t2, suite)
    local c = conversation(pinfo)
    if not (c and ossl) then return nil end
    th0 = th0 or sha256("lockstep v1 transcript")
    c.th2 = tohex(sha256(sha256(th0 .. c.t1) .. t2))
    c.suite, c.secrets, c.keys = suite, keylog[c.th2], {}
    return c
end

-- ---------------------------------------------------------------- messages
local function list(t, tvb, off, field)
    local n = tvb(off, 1):uint()
    t:add(field, tvb(off + 1, n))
    return off + 1 + n
end

local function vec16(t, tvb, off, field)
    local n = tvb(off, 2):uint()
    if n > 0 then t:add(field, tvb(off + 2, n)) end
    return off + 2 + n
end

local function share_or_random(t, tvb, off, k)
    if k > 0 then t:add(f.share, tvb(off, k)) else t:add(f.random, tvb(off, 16)); k = 16 end
    return off + k
end

-- Returns the info text and where T1 ends (before mac_c).
local function hello(t, tvb, off)
    off = list(t, tvb, off, f.versions)
    off = list(t, tvb, off, f.suites)
    off = list(t, tvb, off, f.modes)
    t:add(f.flags, tvb(off, 1)); t:add(f.kx, tvb(off + 1, 1))
    off = share_or_random(t, tvb, off + 4, tvb(off + 2, 2):uint())
    t:add(f.seq, tvb(off, 4)); t:add(f.ttl, tvb(off + 4, 4))
    local pl = tvb(off + 8, 1):uint(); off = off + 9
    if pl > 0 then
        t:add(f.psk_id, tvb(off, pl)); t:add(f.mac, tvb(off + pl, 16))
        return "HELLO psk_id=" .. tvb(off, pl):string(), off + pl
    end
    return "HELLO", off
end

-- The decrypted plaintext of a record (§6.5) or of the HELLO ACK's sealed part (§6.3).
local function show_plaintext(t, pt, n, auth, name)
    local dt = ByteArray.new(pt, true):tvb(name)
    local st = t:add(f.plaintext, dt())
    st:add(f.key_epoch, n):set_generated(); st:add(f.auth, auth):set_generated()
    return st, dt
end

local function sealed_auth(t, pt, auth)
    local st, dt = show_plaintext(t, pt, 0, auth, "Decrypted HELLO ACK")
    local o = vec16(st, dt, 0, f.cert)
    o = vec16(st, dt, o, f.sig)
    st:add(f.finished, dt(o, 16))
end

local function hello_ack(t, tvb, pinfo)
    t:add(f.version, tvb(1, 1)); t:add(f.suite, tvb(2, 1)); t:add(f.mode, tvb(3, 1)); t:add(f.flags, tvb(4, 1))
    local suite, mode = tvb(2, 1):uint(), tvb(3, 1):uint()
    local off = list(t, tvb, 5, f.versions)
    off = list(t, tvb, off, f.suites)
    off = list(t, tvb, off, f.modes)
    t:add(f.kx, tvb(off, 1))
    off = share_or_random(t, tvb, off + 3, tvb(off + 1, 2):uint())
    t:add(f.seq, tvb(off, 4)); t:add(f.ack, tvb(off + 4, 4)); t:add(f.ttl, tvb(off + 8, 4))
    local clear_end = off + 12
    off = clear_end
    if mode ~= 1 then t:add(f.mac, tvb(off, 16)); off = off + 16 end
    local l = tvb(off, 2):uint()
    t:add(f.sealed_len, tvb(off, 2)); t:add(f.sealed, tvb(off + 2, l))
    local c = on_hello_ack(pinfo, tvb:raw(0, clear_end), suite)
    if c and c.secrets then
        local pt, auth = open(c, false, 0, 0, tvb:raw(0, off + 2), tvb:raw(off + 2, l))
        if pt then sealed_auth(t, pt, auth) else t:add(f.note, auth) end
    end
    return "HELLO ACK mode=" .. (modes[mode] or mode) .. " suite=" .. (suites[suite] or "?")
end

local function inner(st, dt)
    local ty, n = dt(0, 1):uint(), dt(13, 2):uint()
    st:add(f.type, dt(0, 1)); st:add(f.seq, dt(1, 4)); st:add(f.ack, dt(5, 4)); st:add(f.ttl, dt(9, 4))
    st:add(f.body_len, dt(13, 2))
    local info, b = types[ty], 15
    if ty == 1 then  -- re-key HELLO: kx, share or random
        st:add(f.kx, dt(b, 1))
        share_or_random(st, dt, b + 3, dt(b + 1, 2):uint())
    elseif ty == 2 then  -- re-key HELLO ACK: share or random, signature, finished
        local o = vec16(st, dt, share_or_random(st, dt, b + 2, dt(b, 2):uint()), f.sig)
        st:add(f.finished, dt(o, 16))
    elseif ty == 3 then  -- ACK: nonce, certificate, signature, finished
        st:add(f.nonce, dt(b, 4))
        local o = vec16(st, dt, vec16(st, dt, b + 4, f.cert), f.sig)
        st:add(f.finished, dt(o, 16))
    elseif (ty == 4 or ty == 5) and n > 0 then
        st:add(f.data, dt(b, n))
        local s = dt:raw(b, n)
        if not s:find("[^\t\n\r\32-\126]") then
            st:add(f.text, dt(b, n))
            info = info .. ' "' .. (n > 40 and s:sub(1, 40) .. "..." or s):gsub("[\r\n]", " ") .. '"'
        else
            info = info .. " len=" .. n
        end
    elseif ty == 6 then
        st:add(f.nonce, dt(b, 4))
    elseif ty == 8 then
        st:add(f.reason, dt(b, 1))
        info = info .. " reason=" .. (reasons[dt(b, 1):uint()] or "?")
    end
    if dt:len() > b + n then st:add(f.padding, dt(b + n, dt:len() - b - n), dt:len() - b - n) end
    return info
end

-- A protected record (§6.4): its header and, with the key log, its message.
local function record(t, tvb, pinfo)
    local e, rn = tvb(1, 1):uint(), tvb(2, 4):uint()
    t:add(f.epoch, tvb(1, 1)); t:add(f.rn, tvb(2, 4)); t:add(f.ciphertext, tvb(6))
    local info = string.format("record epoch=%d rn=%d len=%d", e, rn, tvb:len())
    local c, from_client = conversation(pinfo)
    if not (c and c.secrets) then return info end
    local why = "no secret for this epoch in the key log"
    for n = e, math.max(e, c.secrets.last), 256 do  -- the epoch byte is the epoch mod 256
        local pt, auth = open(c, from_client, n, rn, tvb:raw(0, 6), tvb:raw(6))
        if pt and plausible(pt) then
            local st, dt = show_plaintext(t, pt, n, auth, "Decrypted record")
            return inner(st, dt) .. string.format(" (epoch %d)", n)
        end
        why = pt and "the plaintext is malformed (wrong key?)" or auth
    end
    t:add(f.note, why)
    return info
end

local function message(tvb, pinfo, tree)
    local t = tree:add(p, tvb())
    local frame = tvb(0, 1):uint()
    t:add(f.frame, tvb(0, 1))
    local info
    if frame == 0x01 then
        local t1_end
        info, t1_end = hello(t, tvb, 1)
        on_hello(pinfo, tvb:raw(0, t1_end))
    elseif frame == 0x02 then
        info = hello_ack(t, tvb, pinfo)
    elseif frame == 0x03 then
        t:add(f.ack, tvb(1, 4)); t:add(f.cookie, tvb(6, tvb(5, 1):uint()))
        info = "COOKIE"
    elseif frame == 0x04 then
        local n = tvb(1, 1):uint()
        if n > 0 then t:add(f.cookie, tvb(2, n)) end
        local pad = tvb(2 + n, 2):uint()
        t:add(f.padding, tvb(2 + n, 2))
        local start, t1_end = 4 + n + pad
        info, t1_end = hello(t, tvb, start + 1)
        on_hello(pinfo, tvb:raw(start, t1_end - start))
        info = info .. (n > 0 and " (behind a cookie)" or " (padded)")
    elseif frame == 0x08 then
        t:add(f.reason, tvb(1, 1)); t:add(f.seq, tvb(2, 4)); t:add(f.ack, tvb(6, 4)); t:add(f.ttl, tvb(10, 4))
        info = "clear CLOSE reason=" .. (reasons[tvb(1, 1):uint()] or "?")
    elseif frame == 0x17 then
        info = record(t, tvb, pinfo)
    elseif frame == 0x19 then
        t:add(f.cid, tvb(1, 8))
        info = record(t, tvb(9):tvb(), pinfo) .. " (cid)"
    else
        info = "unknown frame"
    end
    t:append_text(": " .. info)
    return info
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
    load_keylog()
    conns = {}
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
