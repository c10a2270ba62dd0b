-- Water (R-H): hot water, showers and drinking water by the litre, with a daily free quota
-- per holder (docs/rules.md#water). The water plugin holds an amount when a draw starts and
-- calls this with the measured volume when it ends:
--
--   price{litres_ml=, used_today_ml=, card_type=, service=} -> {charge=, free_ml=}
--
-- litres_ml: this draw, in millilitres. used_today_ml: what the holder already drew today
-- (campus day), of the same service. charge is in fen, rounded down (a fraction of a fen
-- is not charged); free_ml is the part of this draw the quota covered.

-- Price in fen per litre, by service.
local FEN_PER_LITRE = {
    hot = 3,      -- showers and hot taps: 0.03 CNY/L (30 CNY per cubic metre)
    drinking = 1, -- drinking-water dispensers: 0.01 CNY/L
}

-- Free millilitres per holder per day, by card type.
local FREE_ML_PER_DAY = {
    regular = 20000,  -- 20 L a day for students and staff
    temporary = 0,    -- visitors pay from the first litre
}

local MAX_ML <const> = 1000000000 -- 1000 cubic metres: far above any real draw

local function int_arg(a, name, default)
    local v = a[name]
    if v == nil and default ~= nil then
        return default
    end
    if math.type(v) ~= "integer" or v < 0 or v > MAX_ML then
        error(string.format("price: %s must be an integer from 0 to %d, not %s", name, MAX_ML,
            tostring(v)), 0)
    end
    return v
end

local function choice(a, name, table_, default)
    local v = a[name]
    if v == nil then
        v = default
    end
    if type(v) ~= "string" or table_[v] == nil then
        error(string.format("price: unknown %s %s", name, tostring(v)), 0)
    end
    return v
end

function price(a)
    local ml = int_arg(a, "litres_ml")
    local used = int_arg(a, "used_today_ml", 0)
    local card_type = choice(a, "card_type", FREE_ML_PER_DAY, "regular")
    local service = choice(a, "service", FEN_PER_LITRE, "hot")

    local quota_left = math.max(0, FREE_ML_PER_DAY[card_type] - used)
    local free = math.min(ml, quota_left)
    local charge = (ml - free) * FEN_PER_LITRE[service] // 1000
    return { charge = charge, free_ml = free }
end

function selftest()
    local function check(args, charge, free)
        local r = price(args)
        assert(r.charge == charge and r.free_ml == free, string.format(
            "price(litres_ml=%s, used_today_ml=%s) gave %s fen (%s ml free), expected %s (%s)",
            tostring(args.litres_ml), tostring(args.used_today_ml), tostring(r.charge),
            tostring(r.free_ml), charge, free))
    end
    check({ litres_ml = 15000, used_today_ml = 0, card_type = "regular" }, 0, 15000)
    check({ litres_ml = 10000, used_today_ml = 15000, card_type = "regular" }, 15, 5000)
    check({ litres_ml = 10000, used_today_ml = 25000, card_type = "regular" }, 30, 0)
    check({ litres_ml = 10000, used_today_ml = 0, card_type = "temporary" }, 30, 0)
    check({ litres_ml = 1500, used_today_ml = 20000, card_type = "regular" }, 4, 0)
    check({ litres_ml = 10000, used_today_ml = 20000, card_type = "regular", service = "drinking" }, 10, 0)
    check({ litres_ml = 0, used_today_ml = 0 }, 0, 0)
    assert(not pcall(price, { litres_ml = -1 }))
    assert(not pcall(price, { litres_ml = 100, card_type = "gold" }))
    assert(not pcall(price, { used_today_ml = 100 }))
    return true
end
