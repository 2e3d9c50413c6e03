#pragma once
// Serves the files of a folder, loaded into memory once at start-up (for small front ends such
// as the examples' pages). GET and HEAD only; "/" serves index.html.
#include <filesystem>
#include <string>
#include <unordered_map>

#include "net/http_connection.h"

namespace iogate::net {

class StaticFiles final : public RequestHandler {
 public:
  // Throws if the folder cannot be read.
  explicit StaticFiles(const std::filesystem::path& folder);

  std::size_t shard_for(const HttpRequest&, std::size_t current_shard) override { return current_shard; }
  void on_request(const std::shared_ptr<HttpConnection>& connection, HttpRequest& request) override;

 private:
  struct File {
    std::string content_type;
    std::string body;
  };
  std::unordered_map<std::string, File> files_;
};

}  // namespace iogate::net
