package web

import (
	"net/http"
	"sort"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// supplierRoutes are the pages of someone supplying GPUs.
func supplierRoutes() []Route {
	return []Route{
		{"GET", "/devices", User, (*Console).devices},
		{"POST", "/devices/pairing-code", User, (*Console).pairingCode},
	}
}

type devicesPage struct {
	Base
	Devices        []api.DeviceJSON
	PairingCode    string
	PairingExpires string
}

func (c *Console) devices(w http.ResponseWriter, r *http.Request) error {
	return c.devicesPage(w, r, &devicesPage{})
}

func (c *Console) devicesPage(w http.ResponseWriter, r *http.Request, p *devicesPage) error {
	u := me(r)
	ds, err := store.DevicesByUser(r.Context(), c.api.Store.Reader(), u.ID)
	if err != nil {
		return err
	}
	now := c.api.Now()
	for _, d := range ds {
		v, err := c.api.DeviceView(r.Context(), d, now)
		if err != nil {
			return err
		}
		p.Devices = append(p.Devices, v)
	}
	sort.SliceStable(p.Devices, func(i, j int) bool { return p.Devices[i].Name < p.Devices[j].Name })
	p.Title, p.Nav = "Devices", "devices"
	c.render(w, r, "devices", http.StatusOK, p)
	return nil
}

func (c *Console) pairingCode(w http.ResponseWriter, r *http.Request) error {
	code, exp, err := c.api.Accounts.CreatePairingCode(r.Context(), me(r).ID)
	if err != nil {
		return err
	}
	return c.devicesPage(w, r, &devicesPage{PairingCode: code, PairingExpires: exp.UTC().Format("15:04 UTC")})
}
