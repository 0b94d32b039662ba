package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-project/berth/internal/errdefs"
)

// Object is one decoded Kubernetes object of a file.
type Object struct {
	Kind, Name string
	// Line is where the object's document starts in the file (1-based).
	Line int
	// Obj is the typed object: *corev1.Pod, *appsv1.Deployment, *appsv1.DaemonSet,
	// *batchv1.Job, *corev1.ConfigMap, *corev1.Secret, *corev1.PersistentVolumeClaim,
	// *corev1.Service; nil for a kind berth does not apply.
	Obj any
	// raw is the document as JSON values, walked for fields berth does not apply.
	raw map[string]any
}

// Manifest is every object of one file, in file order (a List's items in place of the List).
type Manifest struct {
	Source  string
	Objects []Object
}

// Decode parses a file of one or more YAML documents. Errors name the source and the line of
// the problem (the line of its document when the decoder gives none).
func Decode(source string, data []byte) (*Manifest, error) {
	m := &Manifest{Source: source}
	for _, d := range splitDocuments(data) {
		if err := m.add(d.body, d.line); err != nil {
			return nil, err
		}
	}
	if len(m.Objects) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "%s: no Kubernetes objects found", source)
	}
	return m, nil
}

type document struct {
	body []byte
	line int
}

// splitDocuments cuts data at `---` lines, keeping each document's first line number so that
// errors the YAML decoder reports per document can name the file's line.
func splitDocuments(data []byte) []document {
	var out []document
	start, line := 1, 1
	var cur bytes.Buffer
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		t := bytes.TrimRight(l, " \t\r\n")
		if bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) || bytes.HasPrefix(t, []byte("---\t")) {
			out = append(out, document{bytes.Clone(cur.Bytes()), start})
			cur.Reset()
			start = line + 1
		} else {
			cur.Write(l)
		}
		line++
	}
	return append(out, document{cur.Bytes(), start})
}

var yamlLineRE = regexp.MustCompile(`yaml: line (\d+): (.*)`)

// lineError turns a YAML decoder error into "source:line: message" with the file's line.
func (m *Manifest) lineError(err error, docLine int) error {
	msg := err.Error()
	if sm := yamlLineRE.FindStringSubmatch(msg); sm != nil {
		n, _ := strconv.Atoi(sm[1])
		return errdefs.Newf(errdefs.ErrInvalid, "%s:%d: %s", m.Source, docLine+n-1, sm[2])
	}
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	return errdefs.Newf(errdefs.ErrInvalid, "%s:%d: %s", m.Source, docLine, msg)
}

// add decodes one document (or a List's items) and appends its objects.
func (m *Manifest) add(body []byte, line int) error {
	j, err := yaml.YAMLToJSON(body)
	if err != nil {
		return m.lineError(err, line)
	}
	if t := bytes.TrimSpace(j); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil // an empty document or only comments
	}
	return m.addJSON(j, line)
}

func (m *Manifest) addJSON(j []byte, line int) error {
	var raw map[string]any
	if err := json.Unmarshal(j, &raw); err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "%s:%d: a Kubernetes object must be a mapping", m.Source, line)
	}
	kind, _ := raw["kind"].(string)
	if kind == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "%s:%d: document has no kind", m.Source, line)
	}
	name := ""
	if md, ok := raw["metadata"].(map[string]any); ok {
		name, _ = md["name"].(string)
	}
	if kind == "List" || strings.HasSuffix(kind, "List") && raw["items"] != nil {
		var l corev1.List
		if err := json.Unmarshal(j, &l); err != nil {
			return decodeError(m.Source, line, kind, name, err)
		}
		for _, it := range l.Items {
			if err := m.addJSON(it.Raw, line); err != nil {
				return err
			}
		}
		return nil
	}
	var obj any
	switch kind {
	case "Pod":
		obj = &corev1.Pod{}
	case "Deployment":
		obj = &appsv1.Deployment{}
	case "DaemonSet":
		obj = &appsv1.DaemonSet{}
	case "Job":
		obj = &batchv1.Job{}
	case "ConfigMap":
		obj = &corev1.ConfigMap{}
	case "Secret":
		obj = &corev1.Secret{}
	case "PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "Service":
		obj = &corev1.Service{}
	}
	if obj != nil {
		if err := json.Unmarshal(j, obj); err != nil {
			return decodeError(m.Source, line, kind, name, err)
		}
		if name == "" {
			return errdefs.Newf(errdefs.ErrInvalid, "%s:%d: %s has no metadata.name", m.Source, line, kind)
		}
	}
	m.Objects = append(m.Objects, Object{Kind: kind, Name: name, Line: line, Obj: obj, raw: raw})
	return nil
}

func decodeError(source string, line int, kind, name string, err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return errdefs.Newf(errdefs.ErrInvalid, "%s:%d: %s: %s", source, line, objectName(kind, name), msg)
}

func objectName(kind, name string) string {
	if name == "" {
		return kind
	}
	return fmt.Sprintf("%s %s", kind, name)
}
