// Package build turns a Dockerfile and a context into an image: it parses the Dockerfile with
// buildkit's parser, builds the stage graph, runs independent stages in parallel and each
// instruction through a [Backend], consulting a layer cache keyed by parent, instruction,
// build args in scope and the content of the files a step reads. It never touches storage,
// containers or the state database itself.
package build
