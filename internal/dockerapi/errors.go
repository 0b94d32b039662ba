package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth-project/berth/internal/errdefs"
)

// statusOf maps berth's error kinds to the status codes Docker answers with.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrExists), errors.Is(err, errdefs.ErrInUse), errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrUsage):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errdefs.ErrNotSupported):
		return http.StatusNotImplemented
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

// writeError answers Docker's error body: {"message": "..."}.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// fail answers err with its mapped status.
func fail(w http.ResponseWriter, err error) {
	writeError(w, statusOf(err), err.Error())
}

// invalid is a 400 with a message.
func invalid(format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalid, format, args...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body into v; an empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		return invalid("invalid JSON body: %v", err)
	}
	return nil
}

// writeBody encodes v after the status line has gone out.
func writeBody(w http.ResponseWriter, v any) {
	_ = json.NewEncoder(w).Encode(v)
}
