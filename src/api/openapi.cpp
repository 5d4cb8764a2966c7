// openapi.cpp — the /api/v1 OpenAPI document (see openapi.hpp).
#include "api/openapi.hpp"

namespace api {

std::string_view openapi_json() {
  static constexpr std::string_view kDocument = R"json({
  "openapi": "3.1.0",
  "info": {
    "title": "faxbridge API",
    "version": "1",
    "description": "Send faxes and follow them. Every request needs Authorization: Bearer <token> (faxbridge token add; the node's admin token is in <data_dir>/admin.token). An admin token sees every fax; a user token only its own."
  },
  "servers": [{"url": "/"}],
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "User": {
        "type": "object",
        "required": ["name", "admin", "mailboxes", "created", "tokens"],
        "properties": {
          "name": {"type": "string"}, "admin": {"type": "boolean"},
          "mailboxes": {"type": "array", "items": {"type": "string"}},
          "created": {"type": "string", "format": "date-time"}, "tokens": {"type": "integer"},
          "webhook_url": {"type": ["string", "null"], "description": "told of each fax received for the user's mailboxes"}
        }
      },
      "Job": {
        "type": "object",
        "description": "A fax job, either direction (INTERFACES.md).",
        "required": ["id", "direction", "state", "number", "caller", "pages", "pages_done", "retry_at", "error",
                     "message_id", "subaddress", "created", "updated", "remote_ident", "bad_rows", "media",
                     "detected_by", "node"],
        "additionalProperties": false,
        "properties": {
          "id": {"type": "integer", "minimum": 1},
          "direction": {"enum": ["out", "in"]},
          "state": {"enum": ["queued", "rendering", "ready", "sending", "retry", "done", "failed", "cancelled",
                             "receiving", "delivering"]},
          "number": {"type": "string", "description": "the number dialled (out) or the called DID (in)"},
          "caller": {"type": "string", "description": "our station (out) or the caller id (in)"},
          "pages": {"type": "integer", "minimum": 0},
          "pages_done": {"type": "integer", "minimum": 0},
          "retry_at": {"type": ["string", "null"], "format": "date-time"},
          "error": {"type": ["string", "null"], "description": "why the last attempt failed, one sentence"},
          "message_id": {"type": ["string", "null"], "description": "the spooled message of an outbound job"},
          "subaddress": {"type": ["string", "null"]},
          "created": {"type": "string", "format": "date-time"},
          "updated": {"type": "string", "format": "date-time"},
          "remote_ident": {"type": ["string", "null"], "description": "the far end's station id"},
          "bad_rows": {"type": "integer", "minimum": 0},
          "media": {"type": ["string", "null"], "enum": ["t38", "pcmu", "pcma", "pcmu+t38", "pcma+t38", null]},
          "detected_by": {"type": ["string", "null"]},
          "node": {"type": ["string", "null"], "description": "the node that handled its last call"},
          "priority": {"type": "integer", "enum": [-1, 0, 1], "description": "outbound jobs only"},
          "routing": {"type": ["string", "null"],
                      "description": "one received fax's detail only: how it was routed, as its mail says (the text read on its cover page and the score, or the candidates)"},
          "routed_by": {"type": ["string", "null"],
                        "enum": ["referral", "subaddress", "did", "directory", "ocr", "barcode", "default", "postmaster", null],
                        "description": "inbound jobs only: how the fax was routed (null until it was)"},
          "attempts": {"type": "array", "description": "one fax's detail only: its calls, oldest first",
                       "items": {"type": "object", "additionalProperties": false,
                                 "required": ["time", "node", "trunk", "media", "sip_status", "result", "pages_sent"],
                                 "properties": {
                                   "time": {"type": "string", "format": "date-time"},
                                   "node": {"type": ["string", "null"]},
                                   "trunk": {"type": ["string", "null"]},
                                   "media": {"type": ["string", "null"]},
                                   "sip_status": {"type": ["integer", "null"], "description": "the INVITE's final response (outbound)"},
                                   "result": {"type": "string", "examples": ["done", "busy", "no_answer", "received", "interrupted"]},
                                   "pages_sent": {"type": "integer", "minimum": 0, "description": "pages this call confirmed or received"}}}},
          "page_results": {"type": "array", "description": "one fax's detail only: each page, as T.30 reported it",
                           "items": {"type": "object", "additionalProperties": false,
                                     "required": ["page", "rows", "bad_rows", "state"],
                                     "properties": {
                                       "page": {"type": "integer", "minimum": 1},
                                       "rows": {"type": ["integer", "null"]},
                                       "bad_rows": {"type": ["integer", "null"]},
                                       "state": {"enum": ["sent", "not_sent", "received"]}}}},
          "webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookEvent"},
                       "description": "one fax's detail only: its webhook announcements, oldest first"}
        }
      },
      "JobList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "additionalProperties": false,
        "properties": {
          "items": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
          "next_cursor": {"type": ["string", "null"], "description": "pass as cursor for the next page (a page may be short and still have one: at most 2000 faxes are read per request)"}
        }
      },
      "Submitted": {
        "type": "object",
        "required": ["items"],
        "additionalProperties": false,
        "properties": {"items": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Job"}}}
      },
      "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": false,
        "properties": {
          "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": false,
            "properties": {
              "code": {"enum": ["bad_request", "unauthorized", "forbidden", "refused", "not_found",
                                "method_not_allowed", "conflict", "unsupported_media_type", "unprocessable",
                                "over_cap", "not_implemented", "unavailable"]},
              "message": {"type": "string"}
            }
          }
        }
      },
      "Submission": {
        "type": "object",
        "required": ["to", "document"],
        "properties": {
          "to": {"type": "array", "items": {"type": "string", "examples": ["+12025550100", "+12025550100/T33S=42"]}},
          "document": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"}},
          "priority": {"enum": ["urgent", "normal", "non-urgent"]},
          "cover": {"type": "string", "maxLength": 10000,
                    "description": "a cover page first (To: the numbers, From, the date, the page count) with this text as its comment; an empty one: a cover page without comment"},
          "send_after": {"type": "string", "format": "date-time",
                         "description": "not dialled before this (RFC 3339, at most 30 days ahead; a past time: now); the job waits in ready with retry_at set to it"},
          "webhook_url": {"type": "string", "format": "uri", "maxLength": 2048,
                          "description": "http or https: each state change of the jobs is POSTed there as a WebhookBody, signed with the user's webhook secret in Faxbridge-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">; retried with backoff until a 2xx (for 72 h). Not with the node's own token."}
        }
      },
      "WebhookEvent": {
        "type": "object",
        "required": ["id", "event", "time", "status", "attempts", "error"],
        "additionalProperties": false,
        "properties": {
          "id": {"type": "integer", "minimum": 1},
          "event": {"type": "string", "examples": ["job.sending"]},
          "time": {"type": "string", "format": "date-time", "description": "when the job entered the state"},
          "status": {"enum": ["pending", "delivered", "failed"]},
          "attempts": {"type": "integer", "minimum": 0},
          "error": {"type": ["string", "null"], "description": "why the last attempt failed"}
        }
      },
      "WebhookBody": {
        "type": "object",
        "description": "What a webhook receives (headers Faxbridge-Signature, Faxbridge-Event, Faxbridge-Event-Id).",
        "required": ["id", "event", "state", "time", "job"],
        "additionalProperties": false,
        "properties": {
          "id": {"type": "integer", "minimum": 1, "description": "the event: the same id when sent again"},
          "event": {"type": "string", "examples": ["job.queued", "job.rendering", "job.done"]},
          "state": {"type": "string"},
          "time": {"type": "string", "format": "date-time"},
          "job": {"$ref": "#/components/schemas/Job"}
        }
      }
    },
    "responses": {
      "Error": {"description": "refused; nothing changed",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/api/v1/faxes": {
      "get": {
        "summary": "The faxes this token may see, newest first",
        "parameters": [
          {"name": "direction", "in": "query", "schema": {"enum": ["out", "in"]}},
          {"name": "state", "in": "query", "schema": {"type": "string"}},
          {"name": "number", "in": "query", "schema": {"type": "string"}},
          {"name": "cursor", "in": "query", "schema": {"type": "string"}},
          {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}}
        ],
        "responses": {
          "200": {"description": "a page of faxes",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobList"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"}
        }
      },
      "post": {
        "summary": "Send documents as a fax to one or more numbers",
        "requestBody": {"required": true,
                        "content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/Submission"}}}},
        "responses": {
          "201": {"description": "queued durably: one job per distinct number",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submitted"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "413": {"description": "over 32 MiB"},
          "415": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/faxes/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
      "get": {
        "summary": "One fax",
        "responses": {
          "200": {"description": "the fax", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/faxes/{id}/cancel": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
      "post": {
        "summary": "Cancel a fax that has not ended (a call in progress is hung up)",
        "responses": {
          "200": {"description": "the fax, cancelled",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "404": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/faxes/{id}/retry": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
      "post": {
        "summary": "Try a fax that waits for its retry now",
        "responses": {
          "200": {"description": "the fax, due now",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "404": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/faxes/{id}/document.pdf": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
      "get": {
        "summary": "The fax's pages as PDF (rendered to send, or received)",
        "responses": {
          "200": {"description": "PDF", "content": {"application/pdf": {}}},
          "404": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/faxes/{id}/document.tif": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
      "get": {
        "summary": "The fax's pages as TIFF-F",
        "responses": {
          "200": {"description": "TIFF", "content": {"image/tiff": {}}},
          "404": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/faxes/{id}/pages/{n}.png": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}},
                     {"name": "n", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}},
                     {"name": "width", "in": "query", "schema": {"type": "integer", "minimum": 16, "maximum": 1728, "default": 600}}],
      "get": {
        "summary": "Page n as a grey-scale PNG preview",
        "responses": {
          "200": {"description": "PNG", "content": {"image/png": {}}},
          "404": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/users": {
      "get": {
        "summary": "The API's users (admin tokens)",
        "responses": {
          "200": {"description": "the users", "content": {"application/json": {"schema": {
            "type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}}}}},
          "403": {"$ref": "#/components/responses/Error"}
        }
      },
      "post": {
        "summary": "A new token for a user (created if new); the token and the webhook secret are shown this once",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["name"],
          "properties": {"name": {"type": "string"}, "admin": {"type": "boolean"},
                         "mailboxes": {"type": "array", "items": {"type": "string"}},
                         "webhook_url": {"type": "string"}}}}}},
        "responses": {
          "201": {"description": "the token", "content": {"application/json": {"schema": {
            "type": "object", "required": ["name", "admin", "mailboxes", "token", "webhook_secret", "webhook_url"],
            "properties": {"name": {"type": "string"}, "admin": {"type": "boolean"},
                           "mailboxes": {"type": "array", "items": {"type": "string"}},
                           "token": {"type": "string"}, "webhook_secret": {"type": "string"},
                           "webhook_url": {"type": ["string", "null"]}}}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/users/{name}": {
      "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
      "delete": {
        "summary": "Removes the user and every token of it",
        "responses": {
          "200": {"description": "revoked", "content": {"application/json": {"schema": {
            "type": "object", "required": ["name", "revoked"],
            "properties": {"name": {"type": "string"}, "revoked": {"type": "boolean"}}}}}},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/me": {
      "get": {
        "summary": "Who the token is",
        "responses": {
          "200": {"description": "the token's user", "content": {"application/json": {"schema": {
            "type": "object", "required": ["user", "admin", "mailboxes"],
            "properties": {"user": {"type": "string"}, "admin": {"type": "boolean"},
                           "mailboxes": {"type": "array", "items": {"type": "string"}}}}}}}
        }
      }
    },
    "/api/v1/events": {
      "parameters": [{"name": "since", "in": "query", "schema": {"type": "integer", "description": "unix seconds, at most an hour back"}}],
      "get": {
        "summary": "Server-sent events: each change of a fax the token sees (event: job, id: the job id, data: a Job)",
        "responses": {
          "200": {"description": "an event stream", "content": {"text/event-stream": {}}},
          "400": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/trunks": {
      "get": {
        "summary": "The trunks: state, channels in use (and on a shared store this node's channels_granted), where T.38 did not work (admin tokens)",
        "responses": {
          "200": {"description": "the trunks", "content": {"application/json": {"schema": {"type": "array"}}}},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/v1/openapi.json": {
      "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
    }
  }
}
)json";
  return kDocument;
}

}  // namespace api
