package format

import (
	"fmt"
	"io"

	"github.com/berth-project/berth/internal/errdefs"
)

// Stream compiles format for a stream of items printed as they come (`events`): "json" writes
// each item as one JSON line, anything else is a Go template run on each item's Go fields,
// followed by a newline. A template that does not parse is an error before any item is
// printed.
func Stream(format string) (func(w io.Writer, item any) error, error) {
	if format == "json" {
		return func(w io.Writer, item any) error {
			s, err := jsonString(item)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(w, s)
			return err
		}, nil
	}
	tmpl, err := Parse(Unescape(format) + "\n")
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "parse format %q: %v", format, err)
	}
	return func(w io.Writer, item any) error {
		if err := tmpl.Execute(w, item); err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "format %q: %v", format, err)
		}
		return nil
	}, nil
}
