package cdi

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// NVIDIAGPUKind is the vendor/class of the GPUs that --gpus names.
const NVIDIAGPUKind = "nvidia.com/gpu"

// ParseGPUs turns Docker's --gpus value into NVIDIA CDI device names:
// "all" (or count=all, count=-1) is nvidia.com/gpu=all, a count N is the first N GPUs by
// index, and device=0,1 or device=GPU-UUID names GPUs by index or UUID. capabilities= and
// options= are accepted, as Docker's CLI does; a driver other than nvidia is refused.
func ParseGPUs(value string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(value))
	fields, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("invalid --gpus %q: %w", value, err)
	}
	var devices []string
	count := 0
	for _, f := range fields {
		k, v, hasValue := strings.Cut(strings.TrimSpace(f), "=")
		if !hasValue {
			if len(fields) == 1 || k == "all" {
				k, v = "count", k
			} else {
				return nil, fmt.Errorf("invalid --gpus %q: %q is not key=value", value, f)
			}
		}
		switch strings.ToLower(k) {
		case "count":
			if v == "all" || v == "-1" {
				count = -1
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("invalid --gpus %q: count %q is not all or a positive number", value, v)
			}
			count = n
		case "device":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d == "" {
					return nil, fmt.Errorf("invalid --gpus %q: empty device", value)
				}
				devices = append(devices, NVIDIAGPUKind+"="+d)
			}
		case "driver":
			if v != "nvidia" {
				return nil, fmt.Errorf("invalid --gpus %q: only the nvidia driver is supported", value)
			}
		case "capabilities", "options":
		default:
			return nil, fmt.Errorf("invalid --gpus %q: unknown option %q", value, k)
		}
	}
	switch {
	case len(devices) > 0 && count != 0:
		return nil, fmt.Errorf("invalid --gpus %q: cannot set both count and device", value)
	case len(devices) > 0:
		return devices, nil
	case count == -1:
		return []string{NVIDIAGPUKind + "=all"}, nil
	case count > 0:
		for i := 0; i < count; i++ {
			devices = append(devices, fmt.Sprintf("%s=%d", NVIDIAGPUKind, i))
		}
		return devices, nil
	}
	return nil, fmt.Errorf("invalid --gpus %q: say all, a count or device=", value)
}
