package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	units "github.com/docker/go-units"

	"github.com/berth-project/berth/internal/engine"
)

// PrintTable writes titles and rows as aligned columns, as `top` prints ps's output.
func PrintTable(w io.Writer, titles []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// StatsCells are one container's figures as `stats` prints them.
type StatsCells struct {
	CPU, MemUsage, Mem, NetIO, BlockIO, PIDs string
}

// FormatStats renders a sample of a container's resource usage for `stats` and `pod stats`.
func FormatStats(s *engine.Stats) StatsCells {
	mem := 0.0
	if s.MemLimit > 0 {
		mem = float64(s.MemUsage) / float64(s.MemLimit) * 100
	}
	return StatsCells{
		CPU:      fmt.Sprintf("%.2f%%", s.CPUPercent),
		MemUsage: units.BytesSize(float64(s.MemUsage)) + " / " + units.BytesSize(float64(s.MemLimit)),
		Mem:      fmt.Sprintf("%.2f%%", mem),
		NetIO:    "0B / 0B",
		BlockIO:  units.HumanSizeWithPrecision(float64(s.BlockRead), 3) + " / " + units.HumanSizeWithPrecision(float64(s.BlockWrite), 3),
		PIDs:     strconv.FormatUint(s.PIDs, 10),
	}
}
