/* outer /* inner; */ still inside the outer comment; SELECT 'not a statement'; */
SELECT 1 /* one /* two /* three; */ two; */ one; */ + 1;
/**/ SELECT 2; /***/ SELECT 3; /* ** / * */ SELECT 4;
/* a comment */ /* and another */ SELECT 5;
