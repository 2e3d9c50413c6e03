#pragma once
// The forms a user id takes: the JWT's JSON value, its text for rooms (`user:<id>`, also the
// guide's Redis keys), and the JSON text presence files users under.
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace iogate::app {

// A user id as text ("1" for 1 and "1" alike), as JavaScript writes it in `user:${id}`; empty
// when the id is neither a string nor a number.
std::string user_key(const boost::json::value& id);
// A user id typed as text (a path segment, a flag): digits become a number, as ids from a
// JavaScript back end are; anything else stays a string.
boost::json::value user_id_from_text(std::string_view text);

// Presence files users under their id's JSON text, so that ids keep their JSON type.
std::string presence_id(const boost::json::value& id);
boost::json::value id_from_presence(const std::string& presence_id);

}  // namespace iogate::app
