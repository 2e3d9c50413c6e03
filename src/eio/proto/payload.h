#pragma once
// Engine.IO HTTP long-polling payloads, pure.
//  v4: packets joined by '\x1e'; binary messages as 'b' + base64 (no type digit).
//  v3 text: "<len>:<packet>" repeated, len in UTF-16 units; binary as "b4<base64>".
//  v3 binary (XHR2, when the client did not ask for b64 and binary is present):
//     per packet: 0x00 (text) / 0x01 (binary), the length's decimal digits as bytes 0-9, 0xFF,
//     then the packet (text: type digit + UTF-8 data; binary: type byte 4 + data).
#include <span>
#include <string>
#include <string_view>

#include "core/function_ref.h"
#include "eio/proto/packet.h"

namespace iogate::eio {

// Each decoder calls on_packet for every packet in order and returns false at the first
// malformed one (packets before it have been delivered; the session must then close).
// on_packet returns false to stop decoding early (the decoder then returns true).
using PacketCallback = core::FunctionRef<bool(const PacketView&)>;

bool decode_payload_v4(std::string_view body, PacketCallback on_packet);
bool decode_payload_v3_text(std::string_view body, PacketCallback on_packet);
bool decode_payload_v3_binary(std::string_view body, PacketCallback on_packet);

void encode_payload_v4(std::span<const SharedPacket> packets, std::string& out);
void encode_payload_v3_text(std::span<const SharedPacket> packets, std::string& out);
void encode_payload_v3_binary(std::span<const SharedPacket> packets, std::string& out);

// True when a v3 response must use the binary payload format.
bool v3_needs_binary_payload(std::span<const SharedPacket> packets, bool client_wants_base64);

}  // namespace iogate::eio
