package pricing_test

import (
	"fmt"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/pricing"
)

// The worked example of docs/PRICING.md.
func ExampleQuote() {
	p, err := pricing.Quote(pricing.Inputs{
		Tier:     "gold",
		DownMbps: 600,
		Matching: 10,
		Busy:     8,
		At:       time.Date(2026, 3, 10, 19, 0, 0, 0, time.FixedZone("CET", 3600)),
		Region:   "eu-west",
		Hours:    48,
	}, pricing.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("base        %7d\n", p.BasePerHour)
	for _, f := range p.Factors {
		fmt.Printf("%-11s %7d  %-6s %s\n", f.Name, f.After, f.Multiplier(), f.Why)
	}
	fmt.Printf("supplier    %7d\nfee         %7d\nprice       %7d\n", p.SupplierPerHour, p.FeePerHour, p.PricePerHour)
	total, _ := pricing.Total(p, 1, 48)
	fmt.Printf("48 h        %d\n", total)
	// Output:
	// base         180000
	// bandwidth    189000  ×1.05  600 Mbit/s download is in the 500–999 Mbit/s band
	// demand       245700  ×1.30  8 of 10 matching devices busy (80.00 %)
	// peak         282555  ×1.15  starts 19:00 local in eu-west (UTC+1), in peak hours (17:00–23:00)
	// commitment   268427  ×0.95  48 h commitment is in the 24–167 h band
	// region       268427  ×1.00  eu-west
	// supplier     268427
	// fee           14127
	// price        282554
	// 48 h        13562592
}
