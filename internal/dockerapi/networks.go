package dockerapi

import (
	"net/http"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/engine"
)

func (s *Server) getNetworks(w http.ResponseWriter, r *http.Request) {
	f, err := filtersQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := checkKeys(f, "name", "id", "label", "driver", "type", "scope", "dangling"); err != nil {
		fail(w, err)
		return
	}
	nets, err := s.e.Networks(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := []*engine.NetworkJSON{}
	for _, n := range nets {
		j, err := s.e.InspectNetwork(r.Context(), n.ID)
		if err != nil {
			continue // removed meanwhile
		}
		if !matchNetwork(j, f) {
			continue
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func matchNetwork(j *engine.NetworkJSON, f map[string][]string) bool {
	one := func(key, val string, prefix bool) bool {
		vs, ok := f[key]
		if !ok {
			return true
		}
		for _, v := range vs {
			if v == val || prefix && len(v) <= len(val) && val[:len(v)] == v {
				return true
			}
		}
		return false
	}
	return one("name", j.Name, false) && one("id", j.ID, true) && one("driver", j.Driver, false) &&
		one("scope", j.Scope, false) && allLabels(j.Labels, f["label"])
}

func (s *Server) getNetwork(w http.ResponseWriter, r *http.Request) {
	j, err := s.e.InspectNetwork(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) postNetworksCreate(w http.ResponseWriter, r *http.Request) {
	var req network.CreateRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.Name == "" {
		fail(w, invalid("network name is required"))
		return
	}
	o := engine.NetworkCreateOptions{Driver: req.Driver, Internal: req.Internal, Options: req.Options, Labels: req.Labels}
	if req.EnableIPv6 != nil {
		o.IPv6 = *req.EnableIPv6
	}
	if req.IPAM != nil {
		for _, c := range req.IPAM.Config {
			if c.Subnet.IsValid() {
				o.Subnets = append(o.Subnets, c.Subnet.String())
			}
			gw, ipr := "", ""
			if c.Gateway.IsValid() {
				gw = c.Gateway.String()
			}
			if c.IPRange.IsValid() {
				ipr = c.IPRange.String()
			}
			o.Gateways = append(o.Gateways, gw)
			o.IPRanges = append(o.IPRanges, ipr)
		}
	}
	n, err := s.e.CreateNetwork(r.Context(), req.Name, o)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
}

func (s *Server) deleteNetwork(w http.ResponseWriter, r *http.Request) {
	if err := s.e.RemoveNetwork(r.Context(), r.PathValue("id"), false); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) postNetworkConnect(w http.ResponseWriter, r *http.Request) {
	var req network.ConnectRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	var o engine.ConnectOptions
	if ep := req.EndpointConfig; ep != nil {
		o.Aliases = ep.Aliases
		if ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address.IsValid() {
			o.IP = ep.IPAMConfig.IPv4Address.String()
		}
	}
	c, err := s.e.Container(r.Context(), req.Container)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	o.Rejoin = s.leftNetworkless[c.ID]
	s.mu.Unlock()
	if err := s.e.ConnectNetwork(r.Context(), r.PathValue("id"), c.ID, o); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) postNetworkDisconnect(w http.ResponseWriter, r *http.Request) {
	var req network.DisconnectRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	c, err := s.e.Container(r.Context(), req.Container)
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.e.DisconnectNetwork(r.Context(), r.PathValue("id"), c.ID, req.Force); err != nil {
		fail(w, err)
		return
	}
	// A container this disconnect left without any network may join one again (Docker's
	// API allows it; compose reconnects created containers this way).
	if c, err := s.e.Container(r.Context(), c.ID); err == nil && c.Options.Network == engine.NetworkNone && len(c.Options.Networks) == 0 {
		s.mu.Lock()
		s.leftNetworkless[c.ID] = true
		s.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) postNetworksPrune(w http.ResponseWriter, r *http.Request) {
	f, err := pruneFilter(r, "until", "label", "label!")
	if err != nil {
		fail(w, err)
		return
	}
	ids, err := s.e.PruneNetworks(r.Context(), f)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: nonNil(ids)})
}
