package kube

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// fieldTree is the set of fields berth applies below one point of an object: a key maps to
// the fields applied below it, and a nil subtree means everything below is applied (a map
// of labels, a command's list). Arrays are transparent: the tree of "containers" applies to
// every element. This lists what berth reads, not the Kubernetes schema (k8s.io/api is that).
type fieldTree map[string]fieldTree

// applied builds a tree from dotted paths; "a.b" applies a.b and everything below it.
func applied(paths ...string) fieldTree {
	t := fieldTree{}
	for _, p := range paths {
		n := t
		parts := strings.Split(p, ".")
		for i, k := range parts {
			sub, ok := n[k]
			if i == len(parts)-1 {
				if !ok {
					n[k] = nil
				}
				break
			}
			if sub == nil {
				sub = fieldTree{}
				n[k] = sub
			}
			n = sub
		}
	}
	return t
}

// with grafts sub at path and returns t.
func (t fieldTree) with(path string, sub fieldTree) fieldTree {
	parts := strings.Split(path, ".")
	n := t
	for _, k := range parts[:len(parts)-1] {
		if n[k] == nil {
			n[k] = fieldTree{}
		}
		n = n[k]
	}
	n[parts[len(parts)-1]] = sub
	return t
}

var probeFields = []string{"exec.command", "httpGet.path", "httpGet.port", "httpGet.host", "httpGet.scheme",
	"tcpSocket.port", "tcpSocket.host", "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"}

func containerTree() fieldTree {
	paths := []string{"name", "image", "imagePullPolicy", "command", "args", "workingDir", "stdin", "tty",
		"env.name", "env.value",
		"env.valueFrom.configMapKeyRef.name", "env.valueFrom.configMapKeyRef.key", "env.valueFrom.configMapKeyRef.optional",
		"env.valueFrom.secretKeyRef.name", "env.valueFrom.secretKeyRef.key", "env.valueFrom.secretKeyRef.optional",
		"env.valueFrom.fieldRef.fieldPath", "env.valueFrom.fieldRef.apiVersion",
		"envFrom.prefix", "envFrom.configMapRef.name", "envFrom.configMapRef.optional",
		"envFrom.secretRef.name", "envFrom.secretRef.optional",
		"ports.name", "ports.containerPort", "ports.hostPort", "ports.hostIP", "ports.protocol",
		"resources.limits.memory", "resources.limits.cpu",
		"securityContext.runAsUser", "securityContext.runAsGroup", "securityContext.privileged",
		"securityContext.capabilities.add", "securityContext.capabilities.drop",
		"securityContext.readOnlyRootFilesystem", "securityContext.allowPrivilegeEscalation",
		"volumeMounts.name", "volumeMounts.mountPath", "volumeMounts.readOnly", "volumeMounts.subPath",
	}
	for _, p := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		for _, f := range probeFields {
			paths = append(paths, p+"."+f)
		}
	}
	return applied(paths...)
}

func podSpecTree() fieldTree {
	t := applied("restartPolicy", "hostNetwork", "hostname", "terminationGracePeriodSeconds",
		"securityContext.runAsUser", "securityContext.runAsGroup",
		"volumes.name", "volumes.hostPath.path", "volumes.hostPath.type",
		"volumes.emptyDir.medium", "volumes.emptyDir.sizeLimit",
		"volumes.configMap.name", "volumes.configMap.items.key", "volumes.configMap.items.path", "volumes.configMap.items.mode",
		"volumes.configMap.defaultMode", "volumes.configMap.optional",
		"volumes.secret.secretName", "volumes.secret.items.key", "volumes.secret.items.path", "volumes.secret.items.mode",
		"volumes.secret.defaultMode", "volumes.secret.optional",
		"volumes.persistentVolumeClaim.claimName", "volumes.persistentVolumeClaim.readOnly")
	t["containers"] = containerTree()
	t["initContainers"] = containerTree()
	return t
}

var metadataPaths = []string{"metadata.name", "metadata.labels", "metadata.annotations", "metadata.creationTimestamp"}

func withTemplate(t fieldTree) fieldTree {
	return t.with("spec.template", applied("metadata.name", "metadata.labels", "metadata.annotations", "metadata.creationTimestamp").
		with("spec", podSpecTree()))
}

// appliedFields are the fields berth applies, per kind; apiVersion, kind and status (which
// a cluster writes, never reads) are accepted for every kind. Built on first use: every berth
// command links this package, and only kube play needs the trees.
var appliedFields = sync.OnceValue(func() map[string]fieldTree {
	return map[string]fieldTree{
		"Pod":                   applied(metadataPaths...).with("spec", podSpecTree()),
		"Deployment":            withTemplate(applied(append(metadataPaths, "spec.replicas", "spec.selector")...)),
		"DaemonSet":             withTemplate(applied(append(metadataPaths, "spec.selector")...)),
		"Job":                   withTemplate(applied(append(metadataPaths, "spec.selector", "spec.backoffLimit", "spec.completions", "spec.parallelism")...)),
		"ConfigMap":             applied(append(metadataPaths, "data", "binaryData", "immutable")...),
		"Secret":                applied(append(metadataPaths, "data", "stringData", "type", "immutable")...),
		"PersistentVolumeClaim": applied(append(metadataPaths, "spec.accessModes", "spec.volumeMode")...),
		"Service":               applied(append(metadataPaths, "spec.selector", "spec.type", "spec.ports.name", "spec.ports.port", "spec.ports.targetPort", "spec.ports.protocol")...),
	}
})

// unapplied lists the paths of o's fields berth does not apply, sorted, or the kind itself
// when berth applies nothing of it.
func unapplied(o Object) []string {
	t, ok := appliedFields()[o.Kind]
	if !ok {
		return []string{""}
	}
	var out []string
	for k, v := range o.raw {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		}
		walk(k, k, v, t, &out)
	}
	sort.Strings(out)
	return out
}

// walk appends the paths below v (field key at path p, applied per parent's entry for key)
// that are not applied. Empty values apply nothing and are never reported.
func walk(p, key string, v any, parent fieldTree, out *[]string) {
	sub, ok := parent[key]
	if isEmpty(v) {
		return
	}
	if !ok {
		*out = append(*out, p)
		return
	}
	if sub == nil {
		return
	}
	walkValue(p, v, sub, out)
}

func walkValue(p string, v any, t fieldTree, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			walk(p+"."+k, k, val, t, out)
		}
	case []any:
		for i, el := range x {
			walkValue(fmt.Sprintf("%s[%d]", p, i), el, t, out)
		}
	default:
		*out = append(*out, p) // a value where berth expects fields
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
