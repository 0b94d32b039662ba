package kube

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// env resolves a container's envFrom, then env (later entries win, as in Kubernetes), with
// $(VAR) references to variables defined before them expanded.
func (p *planner) env(obj Object, pp *PodPlan, spec corev1.PodSpec, c corev1.Container, at string) ([]string, error) {
	var order []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for i, ef := range c.EnvFrom {
		var data map[string][]byte
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := p.configMaps[ef.ConfigMapRef.Name]
			if !ok {
				if p.optional(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, p.errorf(obj, "%s.envFrom[%d].configMapRef: ConfigMap %s not found in the file or --configmap", at, i, ef.ConfigMapRef.Name)
			}
			data = configMapData(cm)
		case ef.SecretRef != nil:
			s, ok := p.secrets[ef.SecretRef.Name]
			if !ok {
				if p.optional(ef.SecretRef.Optional) {
					continue
				}
				return nil, p.errorf(obj, "%s.envFrom[%d].secretRef: Secret %s not found in the file", at, i, ef.SecretRef.Name)
			}
			data = secretData(s)
		default:
			continue
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(ef.Prefix+k, string(data[k]))
		}
	}
	for i, e := range c.Env {
		if e.Name == "" || strings.Contains(e.Name, "=") {
			return nil, p.errorf(obj, "%s.env[%d].name: invalid variable name %q", at, i, e.Name)
		}
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vals))
			continue
		}
		v, ok, err := p.valueFrom(obj, pp, e.ValueFrom, fmt.Sprintf("%s.env[%d].valueFrom", at, i))
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

// valueFrom resolves one env valueFrom; ok is false for an optional key that is missing or
// a source berth does not apply (reported).
func (p *planner) valueFrom(obj Object, pp *PodPlan, vf *corev1.EnvVarSource, at string) (string, bool, error) {
	switch {
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		optional := p.optional(r.Optional)
		cm, ok := p.configMaps[r.Name]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, p.errorf(obj, "%s.configMapKeyRef: ConfigMap %s not found in the file or --configmap", at, r.Name)
		}
		v, ok := configMapData(cm)[r.Key]
		if !ok && !optional {
			return "", false, p.errorf(obj, "%s.configMapKeyRef: ConfigMap %s has no key %q", at, r.Name, r.Key)
		}
		return string(v), ok, nil
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		optional := p.optional(r.Optional)
		s, ok := p.secrets[r.Name]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, p.errorf(obj, "%s.secretKeyRef: Secret %s not found in the file", at, r.Name)
		}
		v, ok := secretData(s)[r.Key]
		if !ok && !optional {
			return "", false, p.errorf(obj, "%s.secretKeyRef: Secret %s has no key %q", at, r.Name, r.Key)
		}
		return string(v), ok, nil
	case vf.FieldRef != nil:
		fp := vf.FieldRef.FieldPath
		switch {
		case fp == "metadata.name":
			return pp.Name, true, nil
		case fp == "metadata.namespace":
			return "default", true, nil
		case fp == "spec.nodeName":
			return p.o.NodeName, true, nil
		case strings.HasPrefix(fp, "metadata.labels['") && strings.HasSuffix(fp, "']"):
			v, ok := pp.Labels[fp[len("metadata.labels['"):len(fp)-2]]
			return v, ok, nil
		case strings.HasPrefix(fp, "metadata.annotations['") && strings.HasSuffix(fp, "']"):
			v, ok := pp.Annotations[fp[len("metadata.annotations['"):len(fp)-2]]
			return v, ok, nil
		}
		p.report(obj, at+".fieldRef.fieldPath", fmt.Sprintf("%s is not applied", fp))
		return "", false, nil
	}
	p.report(obj, at, "is not applied: only configMapKeyRef, secretKeyRef and fieldRef are")
	return "", false, nil
}

// expand replaces $(VAR) with a variable defined before, as Kubernetes does in env values,
// command and args; $$ is a literal $, and unknown references stay as they are.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func expandAll(args []string, vars map[string]string) []string {
	if len(args) == 0 {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, vars)
	}
	return out
}
