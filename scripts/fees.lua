-- Canteen fee rule (R-W4): the merchant's agreed discount and the management fee by card
-- type, in integer fen. The wallet calls it on every payment (docs/rules.md#fees):
--
--   fee{amount=, card_type=, kind=, merchant=, category=, discount_bp=, fee_bp=, hour=}
--     -> {discount=, fee=}
--
-- The holder pays amount - discount + fee; the merchant receives amount - discount.
-- Rates are basis points (1 bp = 0.01 %, 10000 bp = 100 %); results are rounded down.
--
-- discount_bp and fee_bp, when the gateway passes them, come from its merchant table
-- (`yktctl merchant add ... --discount 5 --fee-temporary 10`; fee_bp is already the rate for
-- this card type). Then, offers aside, the result is exactly the built-in rule:
--   discount = amount * discount_bp // 10000
--   fee      = (amount - discount) * fee_bp // 10000
-- Without them, the tables below decide.

-- Management fee (管理费) by card, when no fee_bp is passed; canteen consumption only.
local FEE_BP = {
    temporary = 1000, -- temporary cards (visitors, short-term staff): 10 %
    staff = 0,        -- staff cards
    student = 0,      -- regular student cards
}

-- Discounts merchants agreed with the school (消费优惠), when no discount_bp is passed.
local MERCHANT_DISCOUNT_BP = {
    ["canteen-3"] = 500, -- 三食堂: 5 % off for everyone
}

-- Offers a department grants on top: the larger of the offer and the merchant's discount
-- applies. hour is the campus hour of the payment (0-23); from_hour <= hour < to_hour.
local OFFERS = {
    -- 教工食堂: staff get 5 % off at lunch.
    { merchant = "canteen-staff", kind = "staff", from_hour = 11, to_hour = 13, discount_bp = 500 },
}

local MAX_AMOUNT <const> = 1000000000000 -- 10^12 fen keeps amount * 10000 far from overflow

-- The wallet calls fee on every payment: library functions are looked up once, here.
local mtype, max, format = math.type, math.max, string.format

local function bad(name, min, max_, v)
    error(format("fee: %s must be an integer from %d to %d, not %s", name, min, max_,
        tostring(v)), 0)
end

-- An integer in min..max_, or the default when absent. (Strings are refused: Lua would
-- turn "1250" * 500 into a number without a word.)
local function int_arg(v, name, min, max_, default)
    if v == nil and default ~= nil then
        return default
    end
    if mtype(v) ~= "integer" or v < min or v > max_ then
        bad(name, min, max_, v)
    end
    return v
end

local function default_fee_bp(card_type, kind, category)
    if category ~= "canteen" then
        return 0
    end
    if card_type == "temporary" then
        return FEE_BP.temporary
    end
    return FEE_BP[kind] or 0
end

function fee(a)
    local amount = int_arg(a.amount, "amount", 0, MAX_AMOUNT)
    local card_type = a.card_type or "regular"
    local kind = a.kind or (card_type == "temporary" and "temporary" or "student")
    local merchant = a.merchant

    local discount_bp = a.discount_bp
    if discount_bp == nil then
        discount_bp = MERCHANT_DISCOUNT_BP[merchant] or 0
    else
        int_arg(discount_bp, "discount_bp", 0, 10000)
    end
    local fee_bp = a.fee_bp
    if fee_bp == nil then
        fee_bp = default_fee_bp(card_type, kind, a.category or "canteen")
    else
        int_arg(fee_bp, "fee_bp", 0, 10000)
    end

    local hour = a.hour
    if hour ~= nil then
        int_arg(hour, "hour", 0, 23)
        for _, o in ipairs(OFFERS) do
            if o.merchant == merchant and o.kind == kind and hour >= o.from_hour
                and hour < o.to_hour then
                discount_bp = max(discount_bp, o.discount_bp)
            end
        end
    end

    local discount = amount * discount_bp // 10000
    return { discount = discount, fee = (amount - discount) * fee_bp // 10000 }
end

function selftest()
    local function check(args, discount, fee_)
        local r = fee(args)
        assert(r.discount == discount and r.fee == fee_, string.format(
            "fee(amount=%s) gave discount %s fee %s, expected %s %s",
            tostring(args.amount), tostring(r.discount), tostring(r.fee), discount, fee_))
    end
    -- The gateway's merchant rates: exactly the built-in rule.
    check({ amount = 1250, card_type = "temporary", discount_bp = 0, fee_bp = 1000 }, 0, 125)
    check({ amount = 1250, card_type = "temporary", discount_bp = 500, fee_bp = 1000 }, 62, 118)
    check({ amount = 999, card_type = "regular", discount_bp = 250, fee_bp = 0 }, 24, 0)
    check({ amount = 0, card_type = "temporary", discount_bp = 500, fee_bp = 1000 }, 0, 0)
    check({ amount = 9, card_type = "temporary", discount_bp = 0, fee_bp = 1000 }, 0, 0)
    -- The script's own tables.
    check({ amount = 1000, card_type = "temporary", merchant = "canteen-1", category = "canteen" }, 0, 100)
    check({ amount = 1000, card_type = "regular", kind = "staff", merchant = "canteen-1" }, 0, 0)
    check({ amount = 1000, card_type = "regular", kind = "student", merchant = "canteen-1" }, 0, 0)
    check({ amount = 1000, card_type = "temporary", merchant = "market-1", category = "supermarket" }, 0, 0)
    check({ amount = 1000, card_type = "temporary", merchant = "canteen-3", category = "canteen" }, 50, 95)
    -- The staff lunch offer.
    local lunch = { amount = 1000, card_type = "regular", kind = "staff", merchant = "canteen-staff",
        discount_bp = 0, fee_bp = 0, hour = 12 }
    check(lunch, 50, 0)
    check({ amount = 1000, card_type = "regular", kind = "staff", merchant = "canteen-staff",
        discount_bp = 0, fee_bp = 0, hour = 13 }, 0, 0)
    check({ amount = 1000, card_type = "regular", kind = "student", merchant = "canteen-staff",
        discount_bp = 0, fee_bp = 0, hour = 12 }, 0, 0)
    check({ amount = 1000, card_type = "regular", kind = "staff", merchant = "canteen-staff",
        discount_bp = 800, fee_bp = 0, hour = 12 }, 80, 0)
    -- Bad input is refused, not guessed at.
    assert(not pcall(fee, { card_type = "regular" }))
    assert(not pcall(fee, { amount = -1 }))
    assert(not pcall(fee, { amount = 12.5 }))
    assert(not pcall(fee, { amount = 100, fee_bp = 10001 }))
    assert(not pcall(fee, { amount = 100, hour = 24 }))
    assert(not pcall(fee, { amount = "1250" }))
    assert(not pcall(fee, { amount = 100, discount_bp = "500" }))
    return true
end
