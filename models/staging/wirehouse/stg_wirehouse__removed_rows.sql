-- raw rows taken out after they were loaded (forget, --replace, relabel):
-- what incremental models rebuild (macros/nodes_changed.sql)
with

source as (
    select * from {{ source('wirehouse', 'removed_rows') }}
),

final as (
    select
        kind,
        table_name,
        -- as the staging models label rows (loaded before nodes: default)
        coalesce(node, 'default') as node_id,
        first_timestamp as first_removed_at,
        rows as removed_rows,
        removed_at,
        reason
    from source
)

select * from final
