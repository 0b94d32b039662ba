package build

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth-project/berth/internal/errdefs"
)

// dockerfile is a parsed Dockerfile: its stages, the ARGs before the first FROM and the
// escape token the expansions must use. It is the only place buildkit's parser types enter.
type dockerfile struct {
	name     string
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
	warnings []string
}

// ParseError is a Dockerfile syntax or instruction error at a line, printed as
// "Dockerfile:7: unknown instruction: COPPY".
type ParseError struct {
	File string
	Line int // 0 when the error has no line
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap classifies every parse error as invalid input.
func (e *ParseError) Unwrap() error { return errdefs.ErrInvalid }

// parseDockerfile parses data with buildkit's parser and instruction packages. name is used
// in messages only.
func parseDockerfile(name string, data []byte) (df *dockerfile, err error) {
	if name == "" {
		name = "Dockerfile"
	}
	defer func() {
		// the parser reads untrusted input: a bug in it is a parse error, not a crash
		if r := recover(); r != nil {
			df, err = nil, &ParseError{File: name, Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ParseError{File: name, Msg: "the Dockerfile cannot be empty"}
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, locate(name, err)
	}
	if len(res.AST.Children) == 0 {
		return nil, &ParseError{File: name, Msg: "file with no instructions"}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, locate(name, err)
	}
	if len(stages) == 0 {
		line := 0
		if n := res.AST.Children; len(n) > 0 {
			line = n[0].StartLine
		}
		return nil, &ParseError{File: name, Line: line, Msg: "no build stage in current context: the Dockerfile needs a FROM"}
	}
	df = &dockerfile{name: name, stages: stages, metaArgs: metaArgs, escape: res.EscapeToken}
	for _, w := range res.Warnings {
		msg := w.Short
		if w.Location != nil {
			msg = fmt.Sprintf("%s:%d: %s", name, w.Location.Start.Line, w.Short)
		}
		df.warnings = append(df.warnings, msg)
	}
	seen := map[string]int{}
	for i, s := range stages {
		if s.Name == "" {
			continue
		}
		if _, dup := seen[s.Name]; dup {
			return nil, &ParseError{File: name, Line: rangeLine(s.Location), Msg: fmt.Sprintf("duplicate stage name %q", s.Name)}
		}
		seen[s.Name] = i
	}
	return df, nil
}

// parseTrigger parses one ONBUILD trigger of a base image into its instruction.
func parseTrigger(expr string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, fmt.Errorf("parse ONBUILD trigger %q: %w", expr, err)
	}
	if len(res.AST.Children) != 1 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "ONBUILD trigger %q: want exactly one instruction", expr)
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "ONBUILD trigger %q: %v", expr, innerMessage(err))
	}
	return cmd, nil
}

// locate turns a buildkit error into a ParseError carrying the first line it names.
func locate(name string, err error) error {
	pe := &ParseError{File: name, Msg: innerMessage(err)}
	var el *parser.ErrorLocation
	if errors.As(err, &el) && len(el.Locations) > 0 {
		pe.Line = rangeLine(el.Locations[0])
	}
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) {
		pe.Msg = "unknown instruction: " + strings.ToUpper(ue.Instruction)
		if ue.Line > 0 {
			pe.Line = ue.Line
		}
	}
	return pe
}

// innerMessage is the error's text without buildkit's "dockerfile parse error on line N:"
// prefix (the line goes in front as file:line instead) and on one line.
func innerMessage(err error) string {
	msg := err.Error()
	var el *parser.ErrorLocation
	if errors.As(err, &el) {
		if inner := el.Unwrap(); inner != nil {
			msg = inner.Error()
		}
	}
	if strings.HasPrefix(msg, "dockerfile parse error on line ") {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return strings.Join(strings.Fields(msg), " ")
}

func rangeLine(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}
