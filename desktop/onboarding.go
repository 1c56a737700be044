package desktop

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/idlegrid/idlegrid/shared/bench"
)

// onboardingScreen is the first-run flow: welcome, hardware, connect,
// payout wallet, first benchmark. Its default path is one button per step.
type onboardingScreen struct {
	ui      *UI
	content *fyne.Container
	body    *fyne.Container
	step    int

	// Connect step.
	server   *widget.Entry
	email    *widget.Entry
	password *widget.Entry
	code     *widget.Entry
	connect  *widget.Button
	connMsg  *widget.Label
	// Wallet step.
	wallet    *widget.Entry
	walletMsg *widget.Label
	// Buttons of the current step, for tests.
	primary *widget.Button
}

const (
	stepWelcome = iota
	stepHardware
	stepConnect
	stepWallet
	stepBenchmark
)

var stepTitles = []string{"Welcome", "Your hardware", "Connect", "Payout wallet", "First benchmark"}

func newOnboarding(u *UI) *onboardingScreen {
	o := &onboardingScreen{ui: u, body: container.NewStack()}
	o.server = widget.NewEntry()
	o.server.SetText(u.sup.Settings().ServerURL)
	o.email = widget.NewEntry()
	o.email.SetPlaceHolder("you@example.com")
	o.password = widget.NewPasswordEntry()
	o.code = widget.NewEntry()
	o.code.SetPlaceHolder("K7QM-3XRT")
	o.connMsg = widget.NewLabel("")
	o.connMsg.Wrapping = fyne.TextWrapWord
	o.wallet = widget.NewEntry()
	o.wallet.SetPlaceHolder("Your Solana wallet address")
	o.walletMsg = widget.NewLabel("")
	o.walletMsg.Wrapping = fyne.TextWrapWord
	o.content = container.NewPadded(o.body)
	o.show(stepWelcome)
	return o
}

func (o *onboardingScreen) show(step int) {
	o.step = step
	var content fyne.CanvasObject
	switch step {
	case stepWelcome:
		content = o.welcome()
	case stepHardware:
		content = o.hardware()
	case stepConnect:
		content = o.connectStep()
	case stepWallet:
		content = o.walletStep()
	case stepBenchmark:
		content = o.benchmark()
	}
	title := widget.NewLabelWithStyle(fmt.Sprintf("Step %d of %d · %s", step+1, len(stepTitles), stepTitles[step]), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	o.body.Objects = []fyne.CanvasObject{container.NewBorder(title, nil, nil, nil, container.NewVScroll(content))}
	o.body.Refresh()
}

func (o *onboardingScreen) next() { o.show(o.step + 1) }

func para(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func primary(label string, tapped func()) *widget.Button {
	b := widget.NewButton(label, tapped)
	b.Importance = widget.HighImportance
	return b
}

func (o *onboardingScreen) welcome() fyne.CanvasObject {
	o.primary = primary("Start earning", o.next)
	return container.NewVBox(
		widget.NewLabelWithStyle("Earn from your GPU while you're away", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		para("Idlegrid rents your graphics card to people who need computing power, and pays you for the time it works."),
		para("• It only uses the GPU while you are away from the PC, and stops within seconds when you come back or start a game."),
		para("• It stops when the GPU gets hotter or draws more power than the limits you set."),
		para("• It sends the control plane your hardware model, live temperature, power and load, and whether the PC is taking work. Never your files, keystrokes or screen."),
		o.primary,
	)
}

func (o *onboardingScreen) hardware() fyne.CanvasObject {
	gpu := o.ui.sup.Monitor.GPU
	st := gpu.Status()
	box := container.NewVBox()
	if st.Available {
		for _, g := range gpu.GPUs() {
			sim := ""
			if g.Simulated {
				sim = " (simulated)"
			}
			box.Add(para(fmt.Sprintf("GPU %d: %s%s · %s VRAM · driver %s", g.Index, g.Name, sim, gib(g.MemoryTotal), orDash(g.Driver))))
		}
	} else {
		box.Add(para("No GPU can be offered yet: " + st.Reason))
		box.Add(para("Install the NVIDIA driver for your card (from nvidia.com or your system's driver manager), then restart Idlegrid. You can still connect this PC now."))
	}
	if host := o.ui.sup.HostInfo(); host.CPUCores > 0 {
		box.Add(para(fmt.Sprintf("Host: %s · %d CPU threads · %s RAM · %s", orDash(host.CPUModel), host.CPUCores, gib(host.MemTotal), orDash(host.Platform))))
	} else {
		box.Add(para("Host: " + runtime.GOOS))
	}
	o.primary = primary("Continue", o.next)
	return container.NewVBox(box, o.primary)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func (o *onboardingScreen) connectStep() fyne.CanvasObject {
	o.connect = primary("Connect", o.doConnect)
	o.primary = o.connect
	form := widget.NewForm(
		widget.NewFormItem("Server", o.server),
		widget.NewFormItem("Email", o.email),
		widget.NewFormItem("Password", o.password),
	)
	codeForm := widget.NewForm(widget.NewFormItem("Pairing code", o.code))
	return container.NewVBox(
		para("Sign in with your Idlegrid account, or enter the pairing code shown in the console under Devices → Add a device."),
		form,
		widget.NewLabelWithStyle("— or —", fyne.TextAlignCenter, fyne.TextStyle{}),
		codeForm,
		o.connect,
		o.connMsg,
	)
}

// doConnect pairs in the background and moves on when it worked.
func (o *onboardingScreen) doConnect() {
	server, email, password, code := o.server.Text, strings.TrimSpace(o.email.Text), o.password.Text, strings.TrimSpace(o.code.Text)
	if code == "" && (email == "" || password == "") {
		o.connMsg.SetText("Enter your email and password, or a pairing code.")
		return
	}
	o.connect.Disable()
	o.connMsg.SetText("Connecting…")
	o.ui.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		if code != "" {
			err = o.ui.sup.PairWithCode(ctx, server, code)
		} else {
			err = o.ui.sup.SignInAndPair(ctx, server, email, password)
		}
		fyne.Do(func() {
			o.connect.Enable()
			if err != nil {
				o.connMsg.SetText("Could not connect: " + err.Error())
				return
			}
			o.password.SetText("")
			o.connMsg.SetText("Connected.")
			o.next()
		})
	})
}

func (o *onboardingScreen) walletStep() fyne.CanvasObject {
	save := primary("Save wallet", func() {
		if strings.TrimSpace(o.wallet.Text) == "" {
			o.walletMsg.SetText("Paste your wallet's address, or choose Skip for now and add it later in Settings.")
			return
		}
		if err := o.ui.sup.SetWallet(o.wallet.Text); err != nil {
			o.walletMsg.SetText(err.Error())
			return
		}
		o.walletMsg.SetText("")
		o.next()
	})
	o.primary = save
	skip := widget.NewButton("Skip for now", o.next)
	return container.NewVBox(
		para("Payouts go to a Solana wallet you own. Paste its public address (it looks like 7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV)."),
		para("Idlegrid never asks for a private key or a seed phrase. Anyone who asks for those is trying to steal from you."),
		o.wallet,
		container.NewHBox(save, skip),
		o.walletMsg,
	)
}

func (o *onboardingScreen) benchmark() fyne.CanvasObject {
	bar := widget.NewProgressBar()
	step := widget.NewLabel("")
	finish := func() {
		if err := o.ui.sup.FinishOnboarding(); err != nil {
			o.ui.showError(err)
			return
		}
		o.ui.showMain()
	}
	o.primary = primary("Run the benchmark", nil)
	skip := widget.NewButton("Skip (run it later from the Benchmark tab)", finish)
	o.primary.OnTapped = func() {
		o.primary.Disable()
		skip.Disable()
		o.ui.async(func() {
			rep, err := o.ui.sup.RunBenchmark(context.Background(), nil, func(p bench.Progress) {
				fyne.Do(func() { bar.SetValue(p.Fraction); step.SetText(p.Step) })
			})
			fyne.Do(func() {
				skip.Enable()
				if err != nil {
					step.SetText("The benchmark stopped: " + err.Error() + ". You can run it again from the Benchmark tab.")
					o.primary.SetText("Finish")
					o.primary.OnTapped = finish
					o.primary.Enable()
					return
				}
				step.SetText(fmt.Sprintf("Done: score %.0f, tier %s.", rep.Score, rep.Tier))
				o.primary.SetText("Finish")
				o.primary.OnTapped = finish
				o.primary.Enable()
			})
		})
	}
	return container.NewVBox(
		para("A first benchmark measures what your PC can do, which sets its tier and what it earns per hour. It takes under a minute; please don't play during it."),
		bar, step,
		container.NewHBox(o.primary, skip),
	)
}
