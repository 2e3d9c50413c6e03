#include "net/static_files.h"

#include <fstream>
#include <iterator>

namespace iogate::net {

namespace {

std::string content_type_of(const std::filesystem::path& path) {
  auto extension = path.extension().string();
  if (extension == ".html") {
    return "text/html; charset=utf-8";
  }
  if (extension == ".js") {
    return "application/javascript; charset=utf-8";
  }
  if (extension == ".css") {
    return "text/css; charset=utf-8";
  }
  if (extension == ".json") {
    return "application/json";
  }
  if (extension == ".svg") {
    return "image/svg+xml";
  }
  if (extension == ".png") {
    return "image/png";
  }
  return "application/octet-stream";
}

}  // namespace

StaticFiles::StaticFiles(const std::filesystem::path& folder) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string relative = "/";
    relative += std::filesystem::relative(entry.path(), folder).generic_string();
    files_.emplace(std::move(relative), File{content_type_of(entry.path()), std::move(body)});
  }
}

void StaticFiles::on_request(const std::shared_ptr<HttpConnection>& connection, HttpRequest& request) {
  if (request.method != Method::get && request.method != Method::head) {
    connection->respond(HttpResponse{.status = 405, .headers = {{"Allow", "GET, HEAD"}}, .body = {}, .close = false});
    return;
  }
  auto it = files_.find(request.path == "/" ? "/index.html" : request.path);
  if (it == files_.end()) {
    connection->respond(
        HttpResponse{.status = 404, .headers = {{"Content-Type", "text/plain"}}, .body = "Not Found", .close = false});
    return;
  }
  HttpResponse response{.status = 200, .headers = {{"Content-Type", it->second.content_type}}, .body = {}, .close = false};
  if (request.method == Method::get) {
    response.body = it->second.body;
  }
  connection->respond(std::move(response));
}

}  // namespace iogate::net
