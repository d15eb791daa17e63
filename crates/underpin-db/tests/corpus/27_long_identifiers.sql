CREATE TABLE gadget_maintenance_schedule_entries_for_regional_warehouses_all_north (id int);
CREATE TABLE IF NOT EXISTS gadget_maintenance_schedule_entries_for_regional_warehouses_all_south (id int);
CREATE TABLE "éééééééééééééééééééééééééééééééé" (id int);
