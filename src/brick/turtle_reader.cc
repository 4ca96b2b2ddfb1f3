#include "brick/turtle_reader.h"

#include <serd/serd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace brickcast {
namespace {

std::string_view View(const SerdNode* n) {
  return n ? std::string_view(reinterpret_cast<const char*>(n->buf), n->n_bytes) : std::string_view();
}

// Prefixes declared by the document so far: a handful, searched in order; kept per thread with
// their strings from one document to the next (reset, not freed).
struct DeclaredPrefixes {
  std::vector<std::pair<std::string, std::string>> entries;
  size_t size = 0;

  const std::string* Find(std::string_view prefix) const {
    for (size_t i = size; i-- > 0;) {  // the latest declaration of a prefix wins
      if (entries[i].first == prefix) return &entries[i].second;
    }
    return nullptr;
  }
  void Declare(std::string_view prefix, std::string_view ns) {
    if (size == entries.size()) entries.emplace_back();
    entries[size].first.assign(prefix);
    entries[size].second.assign(ns);
    ++size;
  }
};

struct ReadState {
  const PrefixMap* defaults = nullptr;
  DeclaredPrefixes* declared = nullptr;
  std::string base;
  std::vector<Triple>* out = nullptr;  // appended to, or
  TripleBuffer* buffer = nullptr;      // reused
  Term scratch;                        // a literal's datatype before it is copied into place
  TurtleError error;
  bool failed = false;

  Triple& NextTriple() {
    if (buffer == nullptr) return out->emplace_back();
    if (buffer->size == buffer->triples.size()) buffer->triples.emplace_back();
    Triple& t = buffer->triples[buffer->size++];
    t.object.datatype.clear();
    t.object.lang.clear();
    return t;
  }

  // Expands a CURIE with the document's prefixes, then the defaults.
  bool ExpandCurie(std::string_view curie, std::string* iri) {
    const size_t colon = curie.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view prefix = curie.substr(0, colon);
    const std::string* ns = declared->Find(prefix);
    if (ns == nullptr && defaults != nullptr) {
      if (auto d = defaults->find(std::string(prefix)); d != defaults->end()) ns = &d->second;
    }
    if (ns == nullptr) return false;
    iri->assign(*ns);
    iri->append(curie.substr(colon + 1));
    return true;
  }

  bool ToTerm(const SerdNode* node, Term* term) {
    switch (node->type) {
      case SERD_URI: {
        term->kind = Term::Kind::kIri;
        std::string_view v = View(node);
        // Relative IRIs resolve against @base when one was declared.
        if (!base.empty() && v.find(':') == std::string_view::npos) {
          term->value = base;
          term->value.append(v);
        } else {
          term->value.assign(v);
        }
        return true;
      }
      case SERD_CURIE:
        term->kind = Term::Kind::kIri;
        if (!ExpandCurie(View(node), &term->value)) {
          Fail("undefined_prefix", "undefined prefix in '" + std::string(View(node)) + "'");
          return false;
        }
        return true;
      case SERD_BLANK:
        term->kind = Term::Kind::kBlank;
        term->value = "_:";
        term->value.append(View(node));
        return true;
      case SERD_LITERAL:
        term->kind = Term::Kind::kLiteral;
        term->value.assign(View(node));
        return true;
      default:
        Fail("syntax", "unexpected node type");
        return false;
    }
  }

  void Fail(std::string reason, std::string message) {
    if (failed) return;
    failed = true;
    error.reason = std::move(reason);
    error.message = std::move(message);
  }
};

// One Serd reader per thread, reused across documents. Its callbacks reach the document being
// read through `current`.
struct CachedReader {
  SerdReader* reader = nullptr;
  ReadState* current = nullptr;
  ~CachedReader() {
    if (reader != nullptr) serd_reader_free(reader);
  }
};

ReadState* StateOf(void* handle) { return static_cast<CachedReader*>(handle)->current; }

SerdStatus OnBase(void* handle, const SerdNode* uri) {
  StateOf(handle)->base.assign(View(uri));
  return SERD_SUCCESS;
}

SerdStatus OnPrefix(void* handle, const SerdNode* name, const SerdNode* uri) {
  StateOf(handle)->declared->Declare(View(name), View(uri));
  return SERD_SUCCESS;
}

SerdStatus OnStatement(void* handle, SerdStatementFlags /*flags*/, const SerdNode* /*graph*/,
                       const SerdNode* subject, const SerdNode* predicate, const SerdNode* object,
                       const SerdNode* datatype, const SerdNode* lang) {
  ReadState* st = StateOf(handle);
  Triple& t = st->NextTriple();
  if (!st->ToTerm(subject, &t.subject) || !st->ToTerm(predicate, &t.predicate) ||
      !st->ToTerm(object, &t.object)) {
    return SERD_ERR_BAD_SYNTAX;
  }
  if (datatype != nullptr) {
    if (!st->ToTerm(datatype, &st->scratch)) return SERD_ERR_BAD_SYNTAX;
    t.object.datatype.assign(st->scratch.value);
  }
  if (lang != nullptr) t.object.lang.assign(View(lang));
  return SERD_SUCCESS;
}

SerdStatus OnError(void* handle, const SerdError* e) {
  ReadState* st = StateOf(handle);
  if (st->failed) return SERD_SUCCESS;
  char buf[512];
  va_list args;
  va_copy(args, *e->args);
  std::vsnprintf(buf, sizeof buf, e->fmt, args);
  va_end(args);
  std::string msg(buf);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  st->Fail(e->status == SERD_ERR_BAD_CURIE ? "undefined_prefix" : "syntax", msg);
  st->error.line = e->line;
  st->error.column = e->col;
  return SERD_SUCCESS;
}

// Serd reads from a byte source; this one walks a string_view without copying it.
struct ViewSource {
  std::string_view data;
  size_t pos = 0;
};

size_t ReadView(void* buf, size_t size, size_t nmemb, void* stream) {
  auto* src = static_cast<ViewSource*>(stream);
  const size_t want = size * nmemb;
  const size_t n = std::min(want, src->data.size() - src->pos);
  std::memcpy(buf, src->data.data() + src->pos, n);
  src->pos += n;
  return size == 0 ? 0 : n / size;
}

int ViewError(void* stream) {
  (void)stream;
  return 0;
}

}  // namespace

std::string TurtleError::ToString() const {
  std::ostringstream os;
  os << reason;
  if (line > 0) os << " at line " << line << ", column " << column;
  os << ": " << message;
  return os.str();
}

bool TurtleReader::Parse(std::string_view document, std::string_view source_name, std::vector<Triple>* out,
                         TurtleError* error) {
  out->reserve(out->size() + 64);
  return Read(document, source_name, out, nullptr, error);
}

bool TurtleReader::Parse(std::string_view document, std::string_view source_name, TripleBuffer* out,
                         TurtleError* error) {
  out->size = 0;
  return Read(document, source_name, nullptr, out, error);
}

bool TurtleReader::Read(std::string_view document, std::string_view source_name, std::vector<Triple>* out,
                        TripleBuffer* buffer, TurtleError* error) {
  thread_local DeclaredPrefixes declared;
  declared.size = 0;
  ReadState st;
  st.defaults = default_prefixes_;
  st.declared = &declared;
  st.out = out;
  st.buffer = buffer;
  // Serd stops at a NUL byte; a payload with one is binary, not Turtle.
  if (const size_t nul = document.find('\0'); nul != std::string_view::npos) {
    *error = TurtleError{"binary", 0, 0, "payload contains a NUL byte at offset " + std::to_string(nul)};
    return false;
  }
  thread_local CachedReader cache;
  if (cache.reader == nullptr) {
    cache.reader = serd_reader_new(SERD_TURTLE, &cache, nullptr, OnBase, OnPrefix, OnStatement, nullptr);
    serd_reader_set_strict(cache.reader, true);
    serd_reader_set_error_sink(cache.reader, OnError, &cache);
  }
  SerdReader* reader = cache.reader;
  cache.current = &st;
  ViewSource src{document, 0};
  const std::string name(source_name);
  SerdNode name_node = serd_node_from_string(SERD_LITERAL, reinterpret_cast<const uint8_t*>(name.c_str()));
  SerdStatus status =
      serd_reader_start_source_stream(reader, ReadView, ViewError, &src, name_node.buf, 4096);
  if (status == SERD_SUCCESS) status = serd_reader_read_chunk(reader);
  while (status == SERD_SUCCESS && !st.failed) status = serd_reader_read_chunk(reader);
  serd_reader_end_stream(reader);
  cache.current = nullptr;
  if (status != SERD_SUCCESS && status != SERD_FAILURE && !st.failed) {
    st.Fail("syntax", "turtle parse failed (serd status " + std::to_string(static_cast<int>(status)) + ")");
  }
  if (st.failed) {
    // A reader stopped mid-statement may keep partial state: start the next document afresh.
    serd_reader_free(cache.reader);
    cache.reader = nullptr;
    *error = std::move(st.error);
    return false;
  }
  return true;
}

StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) return Status::Unavailable("error reading " + path);
  return os.str();
}

}  // namespace brickcast
