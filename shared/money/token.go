package money

import (
	"fmt"
	"math"
	"strings"
)

// MaxDecimals is the most decimal places a Token may have. SPL mints use at
// most 9 in practice; 18 covers bridged EVM tokens and keeps 10^Decimals
// inside an int64, which ToToken relies on.
const MaxDecimals = 18

// Token is an amount of an SPL token in base units, the integer the chain
// itself counts (lamport-style), with the mint's number of decimals: USDC
// has 6, so 1.5 USDC is Base 1_500_000; many SPL tokens have 9. Like
// Micros, it goes on the wire as the integer Base, never as a decimal.
type Token struct {
	Base     uint64
	Decimals uint8
}

// ParseToken reads a token amount written in whole tokens, digits[.digits]
// with at most decimals decimal places, surrounding white space ignored:
// "1.5" with decimals 6 is Base 1_500_000. The same strictness as ParseUSD
// applies (no ".5", "1.", exponents or separators), plus: token amounts are
// never negative (a transfer has a direction, not a sign), and a value with
// more decimal places than the mint has is refused rather than rounded,
// because the chain would refuse or truncate it.
func ParseToken(s string, decimals uint8) (Token, error) {
	if decimals > MaxDecimals {
		return Token{}, fmt.Errorf("%w: a token with %d decimals is not supported; at most %d", ErrAmount, decimals, MaxDecimals)
	}
	body := strings.TrimSpace(s)
	switch {
	case body == "":
		return Token{}, fmt.Errorf("%w: the token amount is empty; write an amount such as 1.5", ErrAmount)
	case body[0] == '-':
		return Token{}, fmt.Errorf("%w: %q is negative; a token amount cannot be below zero", ErrAmount, s)
	case body[0] == '+':
		return Token{}, fmt.Errorf("%w: %q starts with a plus sign; write the amount without a sign", ErrAmount, s)
	}
	tooPrecise := fmt.Sprintf("this token's smallest unit is %s", Token{Base: 1, Decimals: decimals})
	if decimals == 0 {
		tooPrecise = "this token has no decimals and only comes in whole units"
	}
	base, err := parseScaled(s, body, int(decimals), math.MaxUint64, tooPrecise,
		fmt.Sprintf("a token amount holds at most %s", Token{Base: math.MaxUint64, Decimals: decimals}))
	if err != nil {
		return Token{}, err
	}
	return Token{Base: base, Decimals: decimals}, nil
}

// String returns the amount in whole tokens with exactly Decimals decimal
// places ("1.500000" for 1.5 USDC, "7" for a token without decimals), the
// way wallets and explorers print it, so amounts line up in columns and can
// be compared by eye with what the chain shows.
func (t Token) String() string {
	return formatScaled(t.Base, int(t.Decimals), int(t.Decimals))
}

// ToToken converts credits to token base units at a rate given as micro-USD
// per one whole token (1_000_000 for a USD stablecoin), for paying a
// supplier out. It rounds down so the treasury never pays more than is
// owed, and returns as remainder the credits that were not converted, so
// the caller can keep them on the supplier's balance for the next payout.
//
// The tokens paid are worth base*microsPerToken/10^decimals micros, which
// may not be a whole number of micros. remainder is m minus that value
// rounded up, so that paying base and keeping remainder is never worth more
// than m; what is given up is under one micro per conversion, and nothing
// at all when the rate divides evenly (as it does for stablecoins).
//
// m must not be negative (a debt is not paid out), microsPerToken must be
// positive and decimals at most MaxDecimals.
func ToToken(m Micros, microsPerToken Micros, decimals uint8) (base uint64, remainder Micros, err error) {
	switch {
	case m < 0:
		return 0, 0, fmt.Errorf("%w: cannot pay out the negative amount %s", ErrAmount, m)
	case microsPerToken <= 0:
		return 0, 0, fmt.Errorf("%w: token price of %s per token is not positive", ErrAmount, microsPerToken.USD())
	case decimals > MaxDecimals:
		return 0, 0, fmt.Errorf("%w: a token with %d decimals is not supported; at most %d", ErrAmount, decimals, MaxDecimals)
	}
	scale := pow10(decimals)
	// base*rate = m*10^d - r with 0 <= r < rate, so the tokens are worth
	// m - r/10^d micros and the whole micros left over are floor(r/10^d).
	base, r, ok := mulDivU(uint64(m), scale, uint64(microsPerToken))
	if !ok {
		return 0, 0, fmt.Errorf("%w: %s at %s per token is more than %s, the most a token amount can hold",
			ErrAmount, m.USD(), microsPerToken.USD(), Token{Base: math.MaxUint64, Decimals: decimals})
	}
	return base, Micros(r / scale), nil
}

// pow10 returns 10^d for d <= MaxDecimals.
func pow10(d uint8) uint64 {
	p := uint64(1)
	for range d {
		p *= 10
	}
	return p
}
