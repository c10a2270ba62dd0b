-- Electricity (R-E): a dormitory room buys electricity by card; the price rises in tiers
-- with what the room has bought this month (docs/rules.md#power).
--
--   price{kwh_milli=, used_month_milli=} -> {charge=}
--
-- kwh_milli: this purchase in thousandths of a kWh (Wh). used_month_milli: what the room
-- already bought this calendar month. The purchase is split across the tiers it spans;
-- charge is in fen, rounded down once at the end (a fraction of a fen is not charged).

-- Tiers: the room's monthly total up to `upto` Wh costs fen_per_kwh.
local TIERS = {
    { upto = 60000, fen_per_kwh = 52 },              -- first 60 kWh: 0.52 CNY/kWh
    { upto = 120000, fen_per_kwh = 57 },             -- 60-120 kWh: 0.57 CNY/kWh
    { upto = math.maxinteger, fen_per_kwh = 82 },    -- above 120 kWh: 0.82 CNY/kWh
}

local MAX_WH <const> = 100000000 -- 100 MWh: far above a room's month

local function int_arg(a, name, default)
    local v = a[name]
    if v == nil and default ~= nil then
        return default
    end
    if math.type(v) ~= "integer" or v < 0 or v > MAX_WH then
        error(string.format("price: %s must be an integer from 0 to %d, not %s", name, MAX_WH,
            tostring(v)), 0)
    end
    return v
end

function price(a)
    local buy = int_arg(a, "kwh_milli")
    local from = int_arg(a, "used_month_milli", 0)
    local to = from + buy
    local milli_fen = 0 -- Wh x fen/kWh = thousandths of a fen
    local lower = 0
    for _, tier in ipairs(TIERS) do
        local a_ = math.max(from, lower)
        local b_ = math.min(to, tier.upto)
        if b_ > a_ then
            milli_fen = milli_fen + (b_ - a_) * tier.fen_per_kwh
        end
        lower = tier.upto
    end
    return { charge = milli_fen // 1000 }
end

function selftest()
    local function check(args, charge)
        local r = price(args)
        assert(r.charge == charge, string.format(
            "price(kwh_milli=%s, used_month_milli=%s) gave %s fen, expected %s",
            tostring(args.kwh_milli), tostring(args.used_month_milli), tostring(r.charge), charge))
    end
    check({ kwh_milli = 10000, used_month_milli = 0 }, 520)
    check({ kwh_milli = 10000, used_month_milli = 55000 }, 545)
    check({ kwh_milli = 50000, used_month_milli = 100000 }, 3600)
    check({ kwh_milli = 150000, used_month_milli = 0 }, 60 * 52 + 60 * 57 + 30 * 82)
    check({ kwh_milli = 10000, used_month_milli = 200000 }, 820)
    check({ kwh_milli = 1, used_month_milli = 0 }, 0)
    check({ kwh_milli = 0 }, 0)
    assert(not pcall(price, { kwh_milli = -5 }))
    assert(not pcall(price, { kwh_milli = 1.5 }))
    assert(not pcall(price, {}))
    return true
end
